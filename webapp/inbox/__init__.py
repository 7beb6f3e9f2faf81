"""The agent workspace: Chat and Histórico."""
