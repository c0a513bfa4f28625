"""The admin's link form: every write goes through the configured ``Shortener``.

The form holds owner input only; the Shortener decides. Saving happens as the last step
of validation (``_post_clean``), because the store's own answer is part of validation:
a taken alias is refused by the insert itself, never by "check, then insert". A
``SuolinkError`` becomes a form error on the field it names, or a non-field error, and
nothing is stored; on success ``instance`` is the stored row, so the admin's
``save_model`` has nothing left to do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from django import forms
from django.core.exceptions import ValidationError
from django.db import router

from ...backends import redact_url
from ...detect.platforms import (
    APP_IDS,
    BLOCKING_APPS,
    DEVICE_IDS,
    GROUP_IDS,
    OS_IDS,
    display_name,
)
from ...errors import CodeTaken, InvalidCode, InvalidOption, InvalidURL, SuolinkError
from ...languages import LANGUAGES
from ...models import Link as CoreLink
from ...shortener import Shortener
from .models import Link
from .state import get_shortener
from .storage import DjangoStorage

__all__ = ["LinkForm", "parse_tags", "parse_targets", "platform_choices"]

#: Model-backed settings: the admin gives them its own widgets (dates, numbers, choices).
MODEL_FIELDS: Final = ("url", "expires_at", "max_visits", "disabled", "anti_block_mode")
_TARGET_LINE = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*(?:[=:]\s*|\s+)(\S+)\s*$")


def platform_choices(*, groups: Iterable[tuple[str, frozenset[str]]]) -> list[Any]:
    """Checkbox choices from the platform vocabulary, grouped (apps, OS, devices, groups)."""
    return [
        (label, [(pid, f"{display_name(pid)} ({pid})") for pid in sorted(ids)])
        for label, ids in groups
    ]


_ALL_PLATFORMS = (
    ("Apps", APP_IDS),
    ("Groups", GROUP_IDS),
    ("Operating systems", OS_IDS),
    ("Devices", DEVICE_IDS),
)
_ANTI_BLOCK_PLATFORMS = (("Apps", APP_IDS), ("Groups", GROUP_IDS))


def parse_tags(text: str) -> list[str]:
    """``"news, sale"`` -> ``["news", "sale"]``: comma-separated, blanks dropped."""
    return [tag.strip() for tag in text.split(",") if tag.strip()]


def parse_targets(text: str) -> dict[str, str]:
    """Lines of ``platform URL`` (or ``platform = URL``) -> a mapping; bad lines refused."""
    out: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _TARGET_LINE.match(line)
        if match is None:
            raise ValidationError(
                "line %(n)s: expected a platform and a URL, e.g. ios https://example.com/app",
                params={"n": number},
                code="target_line",
            )
        platform, url = match.groups()
        if platform in out:
            raise ValidationError(
                "line %(n)s: %(p)s is given twice",
                params={"n": number, "p": platform},
                code="target_twice",
            )
        out[platform] = url
    return out


def _targets_text(targets: Iterable[tuple[str, str]]) -> str:
    return "\n".join(f"{platform} {url}" for platform, url in targets)


class LinkForm(forms.ModelForm):
    """Create or change a link through ``get_shortener()``; errors come from the Shortener."""

    code = forms.CharField(
        required=False,
        strip=True,
        widget=forms.TextInput(attrs={"size": 30}),
        help_text="A custom alias; leave blank for a generated code.",
    )
    url = forms.CharField(
        label="URL", strip=True, widget=forms.TextInput(attrs={"class": "vURLField", "size": 80})
    )
    title = forms.CharField(required=False, widget=forms.TextInput(attrs={"size": 60}))
    tags = forms.CharField(
        required=False,
        widget=forms.TextInput(attrs={"size": 60}),
        help_text="Comma-separated, e.g. news, sale.",
    )
    targets = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="One per line: a platform and the URL its visitors get, "
        "e.g. ios https://apps.apple.com/app/id1.",
    )
    anti_block = forms.MultipleChoiceField(
        label="Anti-block in",
        required=False,
        choices=platform_choices(groups=_ANTI_BLOCK_PLATFORMS),
        widget=forms.CheckboxSelectMultiple,
        help_text="Visitors in these apps see the 'open in your browser' guide page.",
    )
    allow = forms.MultipleChoiceField(
        required=False,
        choices=platform_choices(groups=_ALL_PLATFORMS),
        widget=forms.CheckboxSelectMultiple,
        help_text="Only these may open the link; none ticked lets every platform in.",
    )
    deny = forms.MultipleChoiceField(
        required=False,
        choices=platform_choices(groups=_ALL_PLATFORMS),
        widget=forms.CheckboxSelectMultiple,
        help_text="These are refused.",
    )
    language = forms.ChoiceField(
        required=False,
        choices=[("", "the visitor's (default)"), *((lang, lang) for lang in LANGUAGES)],
        help_text="The language of the link's pages.",
    )
    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Set a new password; leave blank to keep the current one. Never shown.",
    )
    clear_password = forms.BooleanField(
        required=False, label="Remove the password", help_text="Anyone may open the link."
    )

    class Meta:
        model = Link
        fields = MODEL_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.link: CoreLink | None = None
        if self.instance._state.adding:
            self.fields.pop("clear_password", None)
            self.fields["anti_block"].initial = sorted(BLOCKING_APPS)
            return
        self.fields.pop("code", None)
        stored = DjangoStorage(f"django://{self.instance._state.db or 'default'}")
        self.link = stored.get(self.instance.pk)
        if self.link is not None:
            self.initial.update(_initial(self.link))

    # -- validation and the write ----------------------------------------------------------

    def clean_tags(self) -> list[str]:
        return parse_tags(self.cleaned_data.get("tags") or "")

    def clean_targets(self) -> dict[str, str]:
        return parse_targets(self.cleaned_data.get("targets") or "")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password") and data.get("clear_password"):
            self.add_error("clear_password", "Set a new password or remove it, not both.")
        return data

    def _post_clean(self) -> None:
        """Store through the Shortener once every field is clean (instead of model checks)."""
        if self.errors:
            return
        shortener = get_shortener()
        storage = shortener.storage
        if not isinstance(storage, DjangoStorage) or storage.alias != router.db_for_write(Link):
            self.add_error(
                None,
                f"links are stored in {redact_url(getattr(storage, 'url', repr(storage)))}, "
                "not in the database this admin shows: set SUOLINK['STORAGE'] to django:// "
                "(or django://<the alias the admin uses>) to manage them here",
            )
            return
        try:
            link = self._write(shortener)
        except SuolinkError as exc:
            self._refuse(exc)
            return
        self.link = link
        self.instance = Link.objects.using(storage.alias).get(pk=link.code)

    def _write(self, shortener: Shortener) -> CoreLink:
        data = self.cleaned_data
        if self.instance._state.adding:
            settings = {name: _setting(name, data[name]) for name in _SETTINGS}
            settings["password"] = data.get("password") or None
            return shortener.shorten(data["url"], code=data.get("code") or None, **settings)
        changes: dict[str, Any] = {
            name: _setting(name, data[name]) for name in self.changed_data if name in _CHANGEABLE
        }
        if data.get("password"):
            changes["password"] = data["password"]
        elif data.get("clear_password"):
            changes["password"] = None
        return shortener.update(str(self.instance.pk), **changes)

    def _refuse(self, exc: SuolinkError) -> None:
        """``exc`` as an error on the field it names, else on the whole form."""
        field: str | None = None
        if isinstance(exc, InvalidOption):
            field = exc.option
        elif isinstance(exc, InvalidURL):
            targets = self.cleaned_data.get("targets") or {}
            in_targets = exc.url != self.cleaned_data.get("url") and exc.url in targets.values()
            field = "targets" if in_targets else "url"
        elif isinstance(exc, InvalidCode | CodeTaken):
            field = "code"
        self.add_error(field if field in self.fields else None, str(exc))


#: Settings the form hands to ``shorten`` (besides the URL, code and password).
_SETTINGS: Final = (
    "title",
    "tags",
    "targets",
    "expires_at",
    "max_visits",
    "disabled",
    "anti_block",
    "anti_block_mode",
    "allow",
    "deny",
    "language",
)
_CHANGEABLE: Final = frozenset({"url", *_SETTINGS})


def _setting(name: str, value: Any) -> Any:
    """A cleaned form value as the Shortener takes it (blank means the default)."""
    if name in ("title", "language"):
        return value or None
    if name == "allow":
        return list(value) or None  # nothing ticked: every platform may open the link
    if name == "anti_block":
        return None if set(value) == BLOCKING_APPS else list(value)  # the default preset
    return value


def _initial(link: CoreLink) -> Mapping[str, Any]:
    """The form's starting values for a stored link (the password is never shown)."""
    return {
        "url": link.url,
        "title": link.title or "",
        "tags": ", ".join(link.tags),
        "targets": _targets_text(link.targets),
        "anti_block": sorted(BLOCKING_APPS if link.anti_block is None else link.anti_block),
        "allow": sorted(link.allow or ()),
        "deny": sorted(link.deny),
        "language": link.language or "",
    }
