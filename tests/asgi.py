"""An ASGI HTTP scope, for tests that call an ASGI application directly."""


def http_scope(path: str, headers: dict[str, str], method: str = "POST") -> dict:
    return {
        "type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "scheme": "http", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1234),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()], "http_version": "1.1",
    }  # fmt: skip
