"""Triggers, one module per trigger key."""
