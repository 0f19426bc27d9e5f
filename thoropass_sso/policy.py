"""One connection's policy as a typed, frozen value.

The same :class:`ConnectionPolicy` comes from a :class:`~thoropass_sso.models.Connection`
row (a customer added as data) or from ``THOROPASS_SSO`` (the settings-defined
connection of a single-tenant site), so the adapter reads one shape whatever
its source. Both sources are validated by the same functions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import Connection


class PolicyError(ValueError):
    """A policy value is wrong; ``key`` names it (a settings key or a model field)."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(message)


class FrozenMap(Mapping[str, tuple[str, ...]]):
    """A read-only, hashable ``{key: (value, ...)}``.

    ``{"<group object id>": "Editors"}`` and ``{"<id>": ["Editors", "Authors"]}``
    both become ``{"<id>": ("Editors",)}`` shapes, so policy code reads one form.
    """

    def __init__(self, items: Mapping[str, tuple[str, ...]] | None = None) -> None:
        self._items = dict(items or {})

    @classmethod
    def parse(cls, key: str, raw: object) -> FrozenMap:
        if isinstance(raw, FrozenMap):
            return raw
        if not isinstance(raw, Mapping):
            raise PolicyError(key, f"{key} must be a dict, not {type(raw).__name__}.")
        items: dict[str, tuple[str, ...]] = {}
        for name, value in raw.items():
            values = (value,) if isinstance(value, str) else value
            if (not isinstance(name, str) or not name.strip()
                    or not isinstance(values, list | tuple) or not values
                    or not all(isinstance(v, str) and v.strip() for v in values)):
                raise PolicyError(key, f"{key} must map non-empty strings to a Django group name "
                                       'or a list of names, for example {"<group object id>": '
                                       '"Editors"}.')
            items[name.strip()] = tuple(v.strip() for v in values)
        return cls(items)

    def as_json(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self._items.items()}

    def __getitem__(self, key: str) -> tuple[str, ...]:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._items.items())))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self.items()) == dict(other.items())

    def __repr__(self) -> str:
        return f"FrozenMap({self._items!r})"


def parse_id_list(key: str, raw: object) -> tuple[str, ...]:
    """A list of Entra group object ids or app role values (non-empty strings)."""
    if isinstance(raw, str) or not isinstance(raw, list | tuple):
        raise PolicyError(key, f"{key} must be a list of Entra group object ids or app role "
                               "values (non-empty strings).")
    if not all(isinstance(v, str) and v.strip() for v in raw):
        raise PolicyError(key, f"{key} must be a list of Entra group object ids or app role "
                               "values (non-empty strings).")
    return tuple(v.strip() for v in raw)


def parse_landing_path(key: str, raw: object) -> str:
    if not isinstance(raw, str):
        raise PolicyError(key, f"{key} must be a str, not {type(raw).__name__}.")
    if raw and not raw.startswith("/") or raw.startswith("//"):
        raise PolicyError(key, f"{key} must be a path on this site, such as '/'.")
    return raw


@dataclass(frozen=True)
class ConnectionPolicy:
    """What one customer decided: who signs in, and what they become.

    Field names are the settings keys, lower-case, and the model's field names.
    """

    create_users: bool = True
    allow_guests: bool = True
    allow_idp_initiated: bool = True
    landing_path: str = ""
    group_map: FrozenMap = field(default_factory=FrozenMap)
    role_map: FrozenMap = field(default_factory=FrozenMap)
    staff_groups: tuple[str, ...] = ()
    staff_roles: tuple[str, ...] = ()
    superuser_groups: tuple[str, ...] = ()
    superuser_roles: tuple[str, ...] = ()
    mirror_groups: bool = True
    allowed_groups: tuple[str, ...] = ()
    allowed_roles: tuple[str, ...] = ()
    restrict_email_domains: bool = False
    sso_required: bool = False
    # Token encryption on in the customer's Entra app: refuse any assertion in the clear.
    require_encryption: bool = False
    # "Require verification certificates" on in the customer's Entra app: sign AuthnRequests
    # and logout messages to it (Entra then refuses IdP-initiated sign-in).
    sign_requests: bool = False

    @property
    def restricts_access(self) -> bool:
        return bool(self.allowed_groups or self.allowed_roles)

    @classmethod
    def from_values(cls, values: Mapping[str, Any], *, key_of=lambda name: name) -> ConnectionPolicy:
        """Build from ``{field name: value}``; raise PolicyError naming ``key_of(field)``."""
        parsed: dict[str, Any] = {}
        defaults = cls()
        for f in fields(cls):
            if f.name not in values:
                continue
            raw, key = values[f.name], key_of(f.name)
            default = getattr(defaults, f.name)
            if isinstance(default, FrozenMap):
                parsed[f.name] = FrozenMap.parse(key, raw)
            elif isinstance(default, tuple):
                parsed[f.name] = parse_id_list(key, raw)
            elif isinstance(default, bool):
                if not isinstance(raw, bool):
                    raise PolicyError(key, f"{key} must be a bool, not {type(raw).__name__}.")
                parsed[f.name] = raw
            else:
                parsed[f.name] = parse_landing_path(key, raw)
        return cls(**parsed)

    @classmethod
    def from_row(cls, row: Connection) -> ConnectionPolicy:
        return cls.from_values({f.name: getattr(row, f.name) for f in fields(cls)})


POLICY_FIELDS = tuple(f.name for f in fields(ConnectionPolicy))


def validate_row_policy(row: Connection) -> dict[str, str]:
    """Field name -> message for every invalid policy value of ``row`` (empty: valid)."""
    errors: dict[str, str] = {}
    for name in POLICY_FIELDS:
        try:
            ConnectionPolicy.from_values({name: getattr(row, name)})
        except PolicyError as exc:
            errors[name] = str(exc)
    return errors
