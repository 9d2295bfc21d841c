"""ecogprom settings: one module, every value from the environment.

Defaults are safe for development (SQLite, embedded Celery broker) and
``DEBUG`` is off unless asked for; production sets ``DATABASE_URL``,
``CELERY_BROKER_URL``, ``SECRET_KEY`` and ``ALLOWED_HOSTS``. The README's
configuration table lists every variable.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from ecogprom.env import env_bool, env_int, env_list, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("ECOGPROM_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_secret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DEBUG is off. Set SECRET_KEY (or SECRET_KEY_FILE) "
            "to a long random string, or set DEBUG=true for local development."
        )
    SECRET_KEY = "dev-only-insecure-key-never-used-when-debug-is-off"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "surveys",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Control characters in the path, query, form or cookies: 400 before anything reads them.
    "surveys.security.middleware.RequestGuardMiddleware",
    "surveys.security.middleware.PermissionsPolicyMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "surveys.tablet.middleware.KioskConfinementMiddleware",
    "surveys.accounts.middleware.StaffIdleTimeoutMiddleware",
    "surveys.accounts.middleware.StaffOTPMiddleware",
]

ROOT_URLCONF = "ecogprom.urls"
WSGI_APPLICATION = "ecogprom.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "surveys.accounts.context.staff_idle",
                "surveys.outreach.context.outbox",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'ecogprom.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int(
        "DATABASE_CONNECT_TIMEOUT", 5
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django's model backend behind the login throttle (surveys.accounts.throttle).
AUTHENTICATION_BACKENDS = ["surveys.accounts.backends.ThrottledModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login throttle (surveys.accounts.throttle), keyed on the client address read through
# TRUSTED_PROXY_IPS: per username and address, the first LOGIN_FREE_FAILURES wrong
# passwords cost nothing, then each further attempt waits LOGIN_DELAY_SECONDS x 1, 2, 4 ...
# (at most LOGIN_DELAY_MAX_SECONDS) after the last failure; one address with
# LOGIN_ADDRESS_FAILURE_LIMIT failures (any usernames) within LOGIN_ADDRESS_WINDOW_SECONDS
# is refused until they age out. Nobody elsewhere can lock a staff member out.
LOGIN_THROTTLE_ENABLED = env_bool("LOGIN_THROTTLE_ENABLED", True)
LOGIN_FREE_FAILURES = env_int("LOGIN_FREE_FAILURES", 5)
LOGIN_DELAY_SECONDS = env_int("LOGIN_DELAY_SECONDS", 2)
LOGIN_DELAY_MAX_SECONDS = env_int("LOGIN_DELAY_MAX_SECONDS", 900)
LOGIN_FAILURE_MEMORY_SECONDS = env_int("LOGIN_FAILURE_MEMORY_SECONDS", 24 * 3600)
LOGIN_ADDRESS_FAILURE_LIMIT = env_int("LOGIN_ADDRESS_FAILURE_LIMIT", 50)
LOGIN_ADDRESS_WINDOW_SECONDS = env_int("LOGIN_ADDRESS_WINDOW_SECONDS", 900)

# TOTP second factor for staff (django-otp): once a user has a confirmed device, every
# staff page needs a code after the password (surveys.accounts.middleware). Required for
# staff whenever DEBUG is off unless turned off explicitly; optional in the demo.
OTP_REQUIRED_FOR_STAFF = env_bool("OTP_REQUIRED_FOR_STAFF", not DEBUG)
#: Single-use recovery codes issued with an authenticator (django-otp's static device).
OTP_RECOVERY_CODES = 10
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "ecogprom")
# Wrong codes back off exponentially (factor × 1, 2, 4 ... seconds); 0 would turn it off.
OTP_TOTP_THROTTLE_FACTOR = env_int("OTP_TOTP_THROTTLE_FACTOR", 1)
if OTP_TOTP_THROTTLE_FACTOR < 1:
    raise ImproperlyConfigured("OTP_TOTP_THROTTLE_FACTOR must be at least 1 (TOTP throttling)")
OTP_STATIC_THROTTLE_FACTOR = OTP_TOTP_THROTTLE_FACTOR
OTP_LOGIN_URL = "account:two_factor_verify"
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# Personal API tokens (surveys.accounts.tokens): made by staff from a verified session,
# stored as a SHA-256 digest, valid for at most API_TOKEN_DAYS days.
API_TOKEN_DAYS = env_int("API_TOKEN_DAYS", 90)
if API_TOKEN_DAYS < 1:
    raise ImproperlyConfigured("API_TOKEN_DAYS must be at least 1")

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "America/New_York")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Hashed, compressed names in production (needs collectstatic); plain in dev/tests.
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env_bool("STATIC_MANIFEST", not DEBUG)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"

# Security: secure cookies and HSTS whenever DEBUG is off.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_COOKIES = env_bool("SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# Staff are signed out after this long without a request (a warning shows before).
STAFF_IDLE_TIMEOUT_SECONDS = env_int("STAFF_IDLE_TIMEOUT_SECONDS", 30 * 60)
STAFF_IDLE_WARNING_SECONDS = env_int("STAFF_IDLE_WARNING_SECONDS", 120)
if not 0 < STAFF_IDLE_WARNING_SECONDS < STAFF_IDLE_TIMEOUT_SECONDS:
    raise ImproperlyConfigured(
        "STAFF_IDLE_WARNING_SECONDS must be above 0 and below STAFF_IDLE_TIMEOUT_SECONDS"
    )
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Browser features no page here uses, refused for every origin (Permissions-Policy header).
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
        "xr-spatial-tracking",
    )
}
# The client's address behind a reverse proxy (surveys.security.client): the header is
# believed only from these addresses/networks, read from the right. Empty: REMOTE_ADDR.
TRUSTED_PROXY_IPS = env_list("TRUSTED_PROXY_IPS", [])
CLIENT_IP_HEADER = env_str("CLIENT_IP_HEADER", "X-Forwarded-For")
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Content-Security-Policy (django-csp): everything from this origin, no inline script or
# style, no plugins, no framing; images may be data: URIs (the two-factor QR code).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'"],
        "manifest-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Generated files (exports, snapshots, plots) readable by the service account only.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
#: Export files are deleted this many days after they were made (beat, daily).
EXPORT_RETENTION_DAYS = env_int("EXPORT_RETENTION_DAYS", 30)

# The demo (DEBUG) delivers email to the outbox page (/coordinator/outbox/) instead of a
# mail server: reminders and digests can be read, and their links followed, in the browser.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "surveys.outreach.outbox.OutboxEmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ecogprom@localhost")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)

# Contact details and reminders (surveys.outreach, docs/reminders.md).
#: Fernet keys, comma-separated, newest first: the first encrypts, any decrypts (rotation).
#: With DEBUG and none set, one is made under VAR_DIR; otherwise contacts cannot be stored.
CONTACT_ENCRYPTION_KEYS = [
    key.strip() for key in env_secret("CONTACT_ENCRYPTION_KEYS").split(",") if key.strip()
]
#: Contact details are erased this many days after she is seen off study (beat, hourly).
CONTACT_ERASE_AFTER_DAYS = env_int("CONTACT_ERASE_AFTER_DAYS", 30)
if CONTACT_ERASE_AFTER_DAYS < 0:
    raise ImproperlyConfigured("CONTACT_ERASE_AFTER_DAYS must be 0 or more")
#: The address patients reach the site at: links in reminders are made absolute with it.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000" if DEBUG else "").rstrip("/")
#: SMS delivery: "twilio" (a Twilio-compatible HTTP API) or "outbox" (the demo's outbox page).
SMS_BACKEND = env_str("SMS_BACKEND", "outbox" if DEBUG else "twilio")
if SMS_BACKEND not in ("twilio", "outbox"):
    raise ImproperlyConfigured('SMS_BACKEND must be "twilio" or "outbox"')
SMS_API_BASE_URL = env_str("SMS_API_BASE_URL", "https://api.twilio.com").rstrip("/")
SMS_ACCOUNT_SID = env_str("SMS_ACCOUNT_SID")
SMS_AUTH_TOKEN = env_secret("SMS_AUTH_TOKEN")
SMS_FROM_NUMBER = env_str("SMS_FROM_NUMBER")
SMS_TIMEOUT_SECONDS = env_int("SMS_TIMEOUT_SECONDS", 10)

# Celery. Without CELERY_BROKER_URL the embedded filesystem transport is used:
# worker and beat still run as separate processes, no Redis needed (the demo).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_EMBEDDED_BROKER_DIR = VAR_DIR / "celery-broker"
CELERY_TASK_ALWAYS_EAGER = False

REST_FRAMEWORK = {
    # The token first: an API request without credentials is answered 401 with
    # WWW-Authenticate: Token (a refused token too, with the reason).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "surveys.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # JSON only in production; the browsable API with DEBUG (the demo).
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        *(["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "surveys.api.permissions.TokenScope",
        "rest_framework.permissions.IsAuthenticated",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # JSON within bounds (size, depth, no NUL or lone surrogates); form fields are checked by
    # surveys.security.middleware.RequestGuardMiddleware.
    "DEFAULT_PARSER_CLASSES": [
        "surveys.security.drf.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ecogprom API",
    "DESCRIPTION": "Participants, assessments, responses, scores, exports and analysis runs.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI from this server (drf-spectacular-sidecar), never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# /api/docs/ (Swagger UI) answers only when enabled; the schema stays at /api/schema/.
API_DOCS_ENABLED = env_bool("API_DOCS_ENABLED", DEBUG)

# Kiosk (patient tablet) behaviour.
KIOSK_IDLE_SECONDS = env_int("KIOSK_IDLE_SECONDS", 300)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
