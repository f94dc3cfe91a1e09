"""The notifications service: contacts, preferences, the inbox and delivery channels."""
