"""The alliance's services: merchants, members, orders and redemptions around the ledger.

Each module is one capability; each use case is a function that takes the ``Context`` (from
``jifen.app``) and, optionally, the connection of the caller's unit of work.
"""
