"""Writes: every change to trial data goes through a function here."""
