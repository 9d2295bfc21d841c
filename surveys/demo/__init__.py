"""The synthetic E2108 demo trial.

Planned in trial time (:mod:`surveys.demo.plan`), seeded through the services
(:mod:`surveys.demo.seed`).
"""
