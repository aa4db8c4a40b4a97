"""Users, passwords, tokens and the acting principal."""
