"""Histórico: closed and open tickets with filters, and their full transcript."""
