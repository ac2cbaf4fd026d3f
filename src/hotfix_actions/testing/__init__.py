"""Test doubles that speak real protocols, shipped so `hotfix demo` and the act end-to-end run can start them.

Nothing here is imported by the hotfix commands themselves.
"""
