"""flask --app app desk ...: the operator's commands (stub: filled in next)."""
import click

desk_cli = click.Group("desk", help="Operate the desk: database, users, channels, worker, audit.")
