"""The fallback signature backend: the ``xmlsec1`` program instead of python-xmlsec.

For hosts where python-xmlsec cannot be relied on, or does not even import
(nothing else needs it: logout signatures are checked with ``cryptography``,
pinned metadata signatures follow this setting too). Chosen with
``THOROPASS_SSO['SIGNATURE_BACKEND'] = "xmlsec1"``; docs/compatibility.md says
when, and what it costs (one process per verification, ~50 ms each).

Only the cryptographic check of one signature moves out of process. Everything
else -- parsing, the duplicate-ID and structure checks, the strict
:func:`~thoropass_sso.saml.signature.check_signature_shape` allow-list, every
assertion check -- runs exactly as on the default path, before and after.

How one verification is pinned to the node that was shape-checked:

* The document handed to ``xmlsec1`` is the tree we parsed and checked,
  serialized by lxml (no DOCTYPE, no entities), in a private temporary file.
* ``--node-xpath`` names the signature by position from the root, each step
  also checking the element's namespace and local name. ``xmlsec1`` otherwise
  verifies the *first* ``ds:Signature`` in document order, which with a signed
  response and a signed assertion is whichever the sender put first.
* ``--id-attr:ID`` registers ``ID`` only on elements with the signed element's
  qualified name (``samlp:Response`` or ``saml:Assertion``), and
  ``--enabled-reference-uris same-doc`` refuses every other kind of Reference
  (no files, no network).
* ``--enabled-key-data raw-x509-cert`` makes ``xmlsec1`` ignore whatever
  ``KeyInfo`` the message carries (certificates, bare ``KeyValue``,
  ``RetrievalMethod``): the only key is the trusted certificate passed with
  ``--pubkey-cert-pem``. One run per trusted certificate, the last one that
  verified first, like the in-process path.

The trusted certificates are written once, when the connection's runtime is
built (runtime.py), to a private directory removed when the runtime is dropped.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
import weakref
from collections.abc import Sequence

from lxml import etree

from ..exceptions import ConfigurationError
from ..reasons import Reason
from .signature import SignatureProblem

BACKEND_NAME = "xmlsec1"
PROGRAM = "xmlsec1"
# One verification takes ~50 ms; a run that takes 100x that is not going to succeed.
TIMEOUT_SECONDS = 5.0
_VERSION_RE = re.compile(rb"(\d+)\.(\d+)\.(\d+)")


def find_xmlsec1() -> str | None:
    """The path of the ``xmlsec1`` program on PATH, or None."""
    return shutil.which(PROGRAM)


def not_installed_message() -> str:
    return (
        "THOROPASS_SSO['SIGNATURE_BACKEND'] is 'xmlsec1' but the xmlsec1 program is not "
        "on PATH: install it (Debian/Ubuntu: apt install xmlsec1; macOS: brew install "
        "libxmlsec1) or remove SIGNATURE_BACKEND to verify in-process with python-xmlsec."
    )


def node_xpath(element: etree._Element) -> str:
    """An XPath selecting exactly ``element``: its position under each ancestor, and its name.

    Positions count element children only (``*``), as lxml's list of children
    also holds comments and processing instructions. Prefixes are avoided (a
    prefix may be bound to different namespaces in different places).
    """
    steps: list[str] = []
    node = element
    while node is not None:
        name = etree.QName(node)
        test = f"local-name()='{name.localname}' and namespace-uri()='{name.namespace or ''}'"
        parent = node.getparent()
        if parent is None:
            steps.append(f"*[{test}]")
        else:
            position = 1 + sum(
                1 for sibling in node.itersiblings(preceding=True) if isinstance(sibling.tag, str)
            )
            steps.append(f"*[{position}][{test}]")
        node = parent
    return "/" + "/".join(reversed(steps))


@functools.lru_cache(maxsize=4)
def _version(program: str, mtime_ns: int) -> tuple[int, ...] | None:
    """``program --version`` as numbers; asked once per program (and upgrade), not per rebuild."""
    output = subprocess.run(
        [program, "--version"], capture_output=True, timeout=TIMEOUT_SECONDS,
        stdin=subprocess.DEVNULL, check=False,
    ).stdout
    match = _VERSION_RE.search(output)
    return tuple(int(part) for part in match.groups()) if match else None


class Xmlsec1Backend:
    """Verifies one signature by running ``xmlsec1 --verify``, once per trusted certificate."""

    name = BACKEND_NAME

    def __init__(self, certificates_pem: Sequence[bytes], *, program: str | None = None,
                 timeout: float = TIMEOUT_SECONDS) -> None:
        program = program or find_xmlsec1()
        if program is None:
            raise ConfigurationError(not_installed_message())
        self.program = program
        self.timeout = timeout
        self._certificates = tuple(certificates_pem)
        self._base_command = self._command_prefix(program)
        self._directory = ""
        self._write_certificates()
        # The directory outlives nothing: removed with the runtime (or at exit).
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._directory, True)

    @property
    def certificate_count(self) -> int:
        return len(self._certificates)

    def _command_prefix(self, program: str) -> tuple[str, ...]:
        try:
            version = _version(program, os.stat(program).st_mtime_ns)
        except (OSError, subprocess.SubprocessError) as exc:
            raise ConfigurationError(
                f"THOROPASS_SSO['SIGNATURE_BACKEND'] is 'xmlsec1' but {program} does not run: {exc}"
            ) from None
        if version is None:
            raise ConfigurationError(
                f"THOROPASS_SSO['SIGNATURE_BACKEND'] is 'xmlsec1' but '{program} --version' "
                "printed no version."
            )
        command = [
            program, "--verify",
            "--enabled-reference-uris", "same-doc",
            "--enabled-key-data", "raw-x509-cert",
        ]
        if version >= (1, 3, 0):
            # 1.3 looks keys up strictly by the KeyInfo we just disabled; the
            # keys manager holds exactly one trusted key per run.
            command.append("--lax-key-search")
        return tuple(command)

    def _write_certificates(self) -> None:
        """(Re)create the private directory with one PEM file per trusted certificate."""
        self._directory = tempfile.mkdtemp(prefix="thoropass-sso-xmlsec1-")  # mode 0700
        self._paths = []
        for index, pem in enumerate(self._certificates):
            path = os.path.join(self._directory, f"trusted-{index}.pem")
            with open(path, "wb") as file:
                file.write(pem)
            self._paths.append(path)

    def _ensure_certificates(self) -> None:
        # A long-lived worker can outlast a /tmp cleaner (systemd-tmpfiles, tmpreaper).
        if not all(os.path.exists(path) for path in self._paths):
            old = self._directory
            self._write_certificates()
            self._cleanup.detach()
            self._cleanup = weakref.finalize(self, shutil.rmtree, self._directory, True)
            shutil.rmtree(old, ignore_errors=True)

    def prepare(self, root: etree._Element) -> None:
        """Nothing to do in-process: ``xmlsec1`` registers IDs itself (``--id-attr``)."""

    def verify(self, signature: etree._Element, first: int = 0) -> int:
        """Verify ``signature`` with any trusted certificate, ``first`` first; return its index."""
        signed = signature.getparent()
        if signed is None or not self._paths:
            raise SignatureProblem(Reason.SIGNATURE_INVALID, "no trusted certificate verifies it")
        signed_name = etree.QName(signed)
        arguments = [
            "--id-attr:ID", f"{signed_name.namespace}:{signed_name.localname}",
            "--node-xpath", node_xpath(signature),
        ]
        document = etree.tostring(signature.getroottree().getroot())
        self._ensure_certificates()
        with tempfile.NamedTemporaryFile(dir=self._directory, prefix="message-",
                                         suffix=".xml") as file:  # mode 0600
            file.write(document)
            file.flush()
            for offset in range(len(self._paths)):
                index = (first + offset) % len(self._paths)
                if self._run([*arguments, "--pubkey-cert-pem", self._paths[index], file.name]):
                    return index
        raise SignatureProblem(Reason.SIGNATURE_INVALID, "no trusted certificate verifies it")

    def _run(self, arguments: list[str]) -> bool:
        try:
            result = subprocess.run(
                [*self._base_command, *arguments], capture_output=True, timeout=self.timeout,
                stdin=subprocess.DEVNULL, check=False,
            )
        except subprocess.TimeoutExpired:
            raise SignatureProblem(
                Reason.SIGNATURE_INVALID, f"xmlsec1 took over {self.timeout:g} s"
            ) from None
        except OSError as exc:  # the program vanished since the runtime was built
            raise SignatureProblem(
                Reason.SIGNATURE_INVALID, f"xmlsec1 could not run: {exc.strerror}"
            ) from None
        # Exit status 0 and the verdict line, or it did not verify.
        return result.returncode == 0 and b"OK" in (result.stderr + result.stdout).split()
