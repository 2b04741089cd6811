"""`python -m playground COMMAND` (and the `playground` script): cli.main dispatches to one
module per command; they share cli.common. Nothing else imports this package."""
