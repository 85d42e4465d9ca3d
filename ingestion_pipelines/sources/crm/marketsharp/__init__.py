"""marketsharp: its CRM streams (DESIGN.md §10)."""
