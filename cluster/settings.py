"""One settings file, read from the environment.

Embedded defaults (SQLite, the in-process channel layer, the simulation inside
the web process) need no configuration at all. DATABASE_URL (PostgreSQL) and
REDIS_URL switch to the scaled-out configuration.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("KUBEDOJO_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.lower() in ("1", "true", "yes", "on")


def _secret_key() -> str:
    """A stable per-installation key, generated on first run, unless the environment gives one."""
    if os.environ.get("DJANGO_SECRET_KEY"):
        return os.environ["DJANGO_SECRET_KEY"]
    path = VAR_DIR / "secret_key"
    if not path.exists():
        import secrets

        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = _env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "*").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Before channels: our `runworker` (which also runs the simulation) overrides Channels' own.
    "cluster",
    "channels",
    "frontend",
    "workshops",
]

MIDDLEWARE = [
    # First: sends requests under /k8s/ whole to the API's long-lived threads (cluster/api/threads.py).
    "cluster.api.threads.ApiThreadsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "cluster.urls"
# The workshop page shows a seat's cluster map in a frame of the same site.
X_FRAME_OPTIONS = "SAMEORIGIN"
ASGI_APPLICATION = "cluster.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "frontend" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database: SQLite by default, PostgreSQL with DATABASE_URL ---------------------------------
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "cluster.sqlite",  # Django's sqlite3 backend, writers taking turns (cluster/sqlite)
            "NAME": os.environ.get("KUBEDOJO_SQLITE", str(VAR_DIR / "kubedojo.sqlite3")),
            "OPTIONS": {
                # IMMEDIATE takes the write lock at BEGIN, so two writers queue instead of deadlocking.
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            "TEST": {"NAME": os.environ.get("KUBEDOJO_TEST_SQLITE") or None},
            # Keep connections: closing the last one to a WAL database checkpoints it (an fsync), which the
            # simulation's thread did after every tick and the web threads after every request.
            "CONN_MAX_AGE": None,
            "CONN_HEALTH_CHECKS": True,
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channel layer: in-process by default, Redis with REDIS_URL -----------------------------
if os.environ.get("REDIS_URL"):
    # redis-py 8 times socket reads out after 5 s by default, exactly as long as channels_redis blocks in BZPOPMIN
    # waiting for a message (brpop_timeout), so an idle worker or consumer died with "Timeout reading from"
    # (redis/redis-py#4091). Reads may take longer than that block; a socket_timeout in REDIS_URL still wins.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": os.environ["REDIS_URL"], "socket_timeout": 15}], "capacity": 1000,
                       "expiry": 30},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 1000}}}

# --- KubeDojo ------------------------------------------------------------------------------
# Run the simulation loop inside the web process (embedded mode). Scaled-out deployments
# turn this off on the web processes and run `manage.py runworker kubedojo.simulation`.
KUBEDOJO_EMBEDDED_SIMULATION = _env_bool("KUBEDOJO_EMBEDDED_SIMULATION", not os.environ.get("REDIS_URL"))
KUBEDOJO_TICK_SECONDS = float(os.environ.get("KUBEDOJO_TICK_SECONDS", "0.25"))
# Threads serving the Kubernetes API's HTTP requests (cluster/api/threads.py), each with its own database
# connection. One Python process runs one thread at a time, so more only helps requests that wait.
KUBEDOJO_API_THREADS = int(os.environ.get("KUBEDOJO_API_THREADS", "4"))
# How long a worker's lease on a cluster lasts unless renewed (renewed every third of it, at most every 5 s):
# when a worker dies, another takes its clusters over within this plus one discovery pass (2 s).
KUBEDOJO_LEASE_SECONDS = float(os.environ.get("KUBEDOJO_LEASE_SECONDS", "15"))
KUBEDOJO_DEMO_CLUSTER = os.environ.get("KUBEDOJO_DEMO_CLUSTER", "demo")
# Kubelet timing profile: "realistic" for lessons, "fast" for tests (engine.kubelet stages).
KUBEDOJO_PROFILE = os.environ.get("KUBEDOJO_PROFILE", "realistic")
# Public base URL written into kubeconfigs; defaults to the address `make run` serves.
KUBEDOJO_PUBLIC_URL = os.environ.get("KUBEDOJO_PUBLIC_URL", "")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("ja", "日本語"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("KUBEDOJO_LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}, "daphne": {"level": "WARNING"}},
}
