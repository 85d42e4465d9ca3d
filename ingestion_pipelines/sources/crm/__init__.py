"""CRM sources (seed 004, DESIGN.md §10): one package per system, each mostly declarative specs
(CSV profiles, database table specs, API endpoint specs) that the engine's machinery runs."""
