"""A local AWS endpoint: moto's threaded server with the local_aws extensions installed
and its Step Functions engine on (state machines run; their Lambda tasks run in process).

In-process use::

    with start_local_aws() as aws:
        boto3.client("sesv2", endpoint_url=aws.endpoint_url, region_name="us-east-1")

Foreground use: ``python -m local_aws.server --port 5005`` (``make local-aws``): the
server with the whole stack deployed on it (:mod:`local_aws.deployment`), or with
``--bare`` the empty account alone.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import threading
import urllib.request
from types import TracebackType
from typing import Any

from local_aws import MOTO_CONFIG, install


class LocalAws:
    """A running moto server on 127.0.0.1; stop it with :meth:`stop` or ``with``."""

    def __init__(self, server: Any, endpoint_url: str) -> None:
        self._server = server
        self._stopped = False
        self.endpoint_url = endpoint_url

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._server.stop()

    def __enter__(self) -> LocalAws:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_local_aws(port: int = 0) -> LocalAws:
    """Install the extensions, start moto's server (port 0 = a free port) and turn its
    Step Functions engine on.

    The server thread shares this process's moto backends (the state ``mock_aws`` uses).
    """
    from moto.server import ThreadedMotoServer

    install()
    # werkzeug logs every request to stderr; that is noise for tests and the demo.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound_port = server.get_host_and_port()
    endpoint_url = f"http://{host}:{bound_port}"
    # The engine's own clients (a Distributed Map's ItemReader and ResultWriter call S3)
    # aim at localhost:$MOTO_PORT in server mode: this server's port.
    os.environ["MOTO_PORT"] = str(bound_port)
    # Server mode takes moto's config through its API, as mock_aws(config=...) does in process.
    request = urllib.request.Request(  # noqa: S310 - http, our own server
        f"{endpoint_url}/moto-api/config",
        data=json.dumps(MOTO_CONFIG).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - as above
        answer.read()
    return LocalAws(server, endpoint_url)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=5005)
    parser.add_argument(
        "--bare", action="store_true", help="an empty account: no stack deployed on it"
    )
    parser.add_argument("--region", default="us-east-1", help="where the stack is deployed")
    args = parser.parse_args(argv)
    with start_local_aws(args.port) as aws:
        settings = {
            "AWS_ENDPOINT_URL": aws.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",  # local AWS takes any
            "AWS_DEFAULT_REGION": args.region,
        }
        deployment = None
        if not args.bare:
            from local_aws.deployment import deploy

            os.environ.update(settings)
            deployment = deploy(region=args.region)
        print(f"Local AWS listening on {aws.endpoint_url} (Ctrl-C to stop)", flush=True)
        if deployment is not None:
            print(
                f"Stack {deployment.stack_name} deployed: SES changes reach the event function "
                "and a published policy starts a sweep.",
                flush=True,
            )
        exports = " ".join(f"{k}={v}" for k, v in settings.items())
        print(f"In another shell: export {exports}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
        if deployment is not None:
            deployment.stop()


if __name__ == "__main__":
    main()
