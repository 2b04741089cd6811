"""Helpers and fixture plugins shared by the tests of every layer (no tests here)."""
