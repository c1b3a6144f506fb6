"""A TCP port for a server the tests start in another process, with no window for a race.

Asking the kernel for a free port, closing the socket and handing the number to a child leaves a
window in which any other process on the machine can take that port. Here the socket bound to
port 0 stays open until the child has taken the port over: while it is bound, the kernel gives
the port to no other `bind(("", 0))` and refuses it to any explicit bind without SO_REUSEADDR.
Servers that set SO_REUSEADDR before binding (uvicorn, asyncio, PostgreSQL) may still bind it,
because the held socket never listens.
"""

import socket
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def reserved_port(host: str = "127.0.0.1") -> Iterator[int]:
    """Yield a port bound on `host` by this process; release it when the block exits.

    Start the server inside the block and leave the block once the server listens.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind((host, 0))
        yield holder.getsockname()[1]
