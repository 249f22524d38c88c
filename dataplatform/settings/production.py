"""Production profile: PostgreSQL, Redis, explicit secrets; switched on by DATABASE_URL and REDIS_URL.

Nothing here falls back to the embedded parts: a missing value stops start-up with ImproperlyConfigured, and the
system checks in ``dataplatform.checks`` refuse an unsafe combination (SQLite, the in-memory layer, DEBUG on...).
"""

from dataplatform.env import env_bool, env_int, env_list, env_secret, env_str
from dataplatform.settings.base import *

PLATFORM_PROFILE = "production"

SECRET_KEY = env_secret("SECRET_KEY")
DATABASE_URL = env_secret("DATABASE_URL")
REDIS_URL = env_secret("REDIS_URL")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
DEBUG = env_bool("DEBUG", False)

SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
WHITENOISE_USE_FINDERS = False
OPENMLDB_ALLOW_ANONYMOUS = env_bool("OPENMLDB_ALLOW_ANONYMOUS", False)
# Jobs run on Celery workers (make worker); JOB_RUNNER=local keeps them in the web process, for one machine only.
JOB_RUNNER = env_str("JOB_RUNNER", "celery")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
