"""Fault injection: the bot against a database that refuses, hangs or drops connections."""
