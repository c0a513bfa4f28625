"""``KeepsDomains`` for the SQL stores (SQLite, the Django ORM, PostgreSQL, MariaDB).

A domain is one row of a ``domains`` table: its ``name`` (the primary key), ``added_us``
(microseconds since the epoch: the order domains are listed, and so a pool's rotation
order) and ``data``, the JSON of :func:`suolink.domains.domain_to_dict`. A backend
supplies five one-statement primitives; the transactions and errors are shared here.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from dataclasses import replace

from ..domains import Domain, domain_from_json, domain_to_json
from ..errors import DomainNotFound, DomainTaken
from ._common import to_micros
from .relational import RelationalStorage, Tx

__all__ = ["DomainRows", "domain_data", "domain_of"]


#: The ``data`` column of a domain's row.
domain_data = domain_to_json
#: The domain a ``data`` column holds (text, or a JSON value the driver decoded).
domain_of = domain_from_json


class DomainRows(RelationalStorage[Tx]):
    """A relational store that keeps domains (the ``keeps_domains`` capability)."""

    @abstractmethod
    def _insert_domain(self, tx: Tx, name: str, added_us: int, data: str) -> None:
        """Insert the row; a taken name raises one of ``_conflict``."""

    @abstractmethod
    def _domain_rows(self, tx: Tx) -> list[str]:
        """Every row's ``data``, by ``added_us`` then ``name``."""

    @abstractmethod
    def _domain_row(self, tx: Tx, name: str) -> str | None:
        """The row's ``data``, locked against other writers until the transaction ends."""

    @abstractmethod
    def _update_domain(self, tx: Tx, name: str, data: str) -> None:
        """Rewrite the row's ``data``."""

    @abstractmethod
    def _delete_domain(self, tx: Tx, name: str) -> bool:
        """Delete the row; True if there was one."""

    def add_domain(self, domain: Domain) -> Domain:
        """Store ``domain`` if its name is free; ``DomainTaken`` if not."""
        with self._errors("add a domain"):
            try:
                with self._writing() as tx:
                    self._insert_domain(
                        tx, domain.name, to_micros(domain.added_at), domain_data(domain)
                    )
            except self._conflict as exc:
                raise DomainTaken(domain.name) from exc
        return domain

    def list_domains(self) -> list[Domain]:
        """Every domain, oldest first."""
        with self._read("list domains") as tx:
            return [domain_of(data) for data in self._domain_rows(tx)]

    def change_domain(self, name: str, change: Callable[[Domain], Domain]) -> tuple[Domain, Domain]:
        """Read the row locked, apply ``change``, write it back, in one transaction."""
        with self._write("change a domain") as tx:
            data = self._domain_row(tx, name)
            if data is None:
                raise DomainNotFound(name)
            before = domain_of(data)
            after = replace(change(before), name=before.name)
            if after != before:
                self._update_domain(tx, name, domain_data(after))
            return before, after

    def remove_domain(self, name: str) -> bool:
        """Forget the domain; True if it existed."""
        with self._write("remove a domain") as tx:
            return self._delete_domain(tx, name)
