"""Tries to reach the network: a listener the test opened on this machine, and the outside."""
import socket


def attempt(host, port):
    try:
        with socket.create_connection((host, port), timeout=1.0) as s:
            s.sendall(b"answers please")
        return f"CONNECTED {host}:{port}"
    except OSError as exc:
        return f"blocked {host}:{port}: {type(exc).__name__}"


class Phone:
    for host, port in [("127.0.0.1", {{PORT}}), ("{{HOST_IP}}", {{PORT}}), ("1.1.1.1", 53), ("pypi.org", 443)]:
        print(attempt(host, port))
