"""Instant triggers: webhook subscriptions, the poller that feeds them, and delivery."""
