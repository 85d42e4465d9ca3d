"""The artists source (seed 000, the bulk entity import guide): fixtures of entities with
roles, social media accounts and profile photos."""
