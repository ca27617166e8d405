"""Names, types and categories of imported templates, guessed from upstream hints.

Upstream catalogs name variables freely and rarely say what a value is. These guesses
turn ``db_password`` into a generated password parameter, ``SMTP_PORT`` into a port and
a list of tags into one of WindFlow's categories.
"""

from __future__ import annotations

import re
from typing import Any

from knowledge.templates import values as checks
from knowledge.templates.model import CATEGORIES, Parameter, ParameterType

# Names of values that must not be shared between installs. Suffixes such as _FILE or
# _EXPIRY name a path or a setting about the secret, not the secret itself.
_PASSWORD = re.compile(r"PASSW(OR)?D|(^|_)PASS($|_)|PASSPHRASE|(^|_)PWD($|_)")
_SECRET = re.compile(
    r"SECRET|TOKEN|(^|_)API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|(^|_)SALT($|_)"
    r"|ENCRYPTION_?KEY|(^|_)KEY($|_)|(^|_)KEY_BASE|SIGNING|(^|_)JWT($|_)|MASTER_?KEY"
)
_NOT_SECRET = re.compile(
    r"_(FILE|PATH|DIR|URL|URI|HOST|PORT|EXPIRY|EXPIRES|EXPIRE|EXPIRATION|TTL|LIFETIME|"
    r"LENGTH|ENABLED|ENABLE|TIMEOUT|TYPE|ALGORITHM|ALG|ID|NAME|USER|USERNAME|HEADER|"
    r"COOKIE|DURATION|REQUIRED|MIN|MAX|POLICY|PROVIDER|FIELD|ISSUER|AUDIENCE|SCOPE|"
    r"EXPIRES_IN|VALIDITY|ROTATION)$|^(NO|DISABLE|ENABLE|USE)_"
)
_INT = re.compile(r"^(0|[1-9][0-9]{0,9})$")
_BOOL = ("true", "false")


def _keywords(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Keywords of upstream categories and tags, per WindFlow category.
_CATEGORY_WORDS: dict[str, frozenset[str]] = {
    "database": _keywords(
        "database databases db sql postgres postgresql mysql mariadb mongodb "
        "mongo nosql timeseries sqlite graph vector search"
    ),
    "cache": _keywords("cache caching redis valkey memcached key-value kv"),
    "cms": _keywords(
        "cms blog blogging content-management wiki publishing forum "
        "website-builder headless-cms ecommerce e-commerce newsletter"
    ),
    "devtools": _keywords(
        "devtools development developer-tools developer git ci ide api backend "
        "low-code no-code nocode ai llm code mcp baas registry testing chatbot "
        "agent"
    ),
    "automation": _keywords(
        "automation workflow workflows integration scheduler cron iot "
        "home-automation scraping crawler"
    ),
    "monitoring": _keywords(
        "monitoring observability metrics uptime status-page alerting logging logs tracing apm"
    ),
    "storage": _keywords(
        "storage s3 object-storage backup file-sharing file-manager sync files "
        "media photos music video streaming downloader torrent books ebooks "
        "podcast nas cloud"
    ),
    "auth": _keywords(
        "auth authentication sso identity oauth2 oauth oidc saml authorization ldap iam"
    ),
    "security": _keywords(
        "security password-manager secrets vpn privacy firewall vulnerability passwords 2fa"
    ),
    "messaging": _keywords(
        "messaging chat email mail smtp notifications notification queue mqtt "
        "communication matrix push broker sms whatsapp voip"
    ),
    "analytics": _keywords(
        "analytics bi business-intelligence finance accounting budgeting "
        "reporting statistics tracking data"
    ),
    "collaboration": _keywords(
        "collaboration productivity project-management notes office documents "
        "crm erp helpdesk knowledge-base documentation calendar kanban team "
        "whiteboard bookmarks rss business support"
    ),
    "web": _keywords(
        "web proxy reverse-proxy gateway hosting networking server dns cdn "
        "load-balancer static-site"
    ),
}


def slug(text: str) -> str:
    """A template id from an upstream name: ``Bolt.diy`` -> ``bolt-diy``."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return cleaned[:63].strip("-") or "template"


def parameter_name(text: str) -> str:
    """An UPPER_SNAKE parameter name: ``main_domain`` -> ``MAIN_DOMAIN``."""
    cleaned = re.sub(r"[^A-Z0-9]+", "_", text.upper()).strip("_")
    if not cleaned or not cleaned[0].isalpha():
        cleaned = f"P_{cleaned}"
    return cleaned[:64]


def secret_kind(name: str) -> ParameterType | None:
    """``password`` or ``secret`` when a variable name says it holds one."""
    upper = name.upper()
    if _NOT_SECRET.search(upper):
        return None
    if _PASSWORD.search(upper):
        return "password"
    if _SECRET.search(upper):
        return "secret"
    return None


def guess_type(name: str, value: str | None) -> ParameterType:
    """The parameter type a variable's name and example value suggest."""
    upper = name.upper()
    text = value or ""
    if text.lower() in _BOOL:
        return "bool"
    kind = secret_kind(upper)
    if kind is not None:
        return kind
    guesses: list[tuple[bool, ParameterType]] = [
        (upper.endswith("PORT"), "port"),
        ("EMAIL" in upper or upper.endswith("MAIL_FROM"), "email"),
        (upper.endswith(("DOMAIN", "FQDN", "HOSTNAME")), "domain"),
        (upper.endswith(("URL", "URI")), "url"),
    ]
    for matches, kind_guess in guesses:
        if matches:
            probe = Parameter(name="PROBE", type=kind_guess)
            if not text or checks.problem(probe, text) is None:
                return kind_guess
    if _INT.match(text):
        return "int"
    return "string"


def guess_category(*hints: str, words: str = "") -> str:
    """The category whose keywords best match upstream categories/tags, then free text."""
    scores = dict.fromkeys(CATEGORIES, 0)
    tokens = [hint.strip().lower() for hint in hints if hint.strip()]
    free = re.findall(r"[a-z0-9-]+", words.lower())
    for category, keywords in _CATEGORY_WORDS.items():
        scores[category] += 3 * sum(token in keywords for token in tokens)
        scores[category] += sum(token in keywords for token in free)
    best = max(CATEGORIES, key=lambda category: scores[category])
    return best if scores[best] else "web"


def http_url(value: Any) -> str | None:
    """``value`` if it is an http(s) URL (query strings kept), else None."""
    if isinstance(value, str) and re.match(r"^https?://[^\s/]+\S*$", value.strip()):
        return value.strip()
    return None
