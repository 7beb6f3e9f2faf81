"""The demo that `make run` serves: instance secrets and a small team, written once and then kept."""
