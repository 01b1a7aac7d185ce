"""Text for the language model: an embedded corpus of real English, and a reader for files.

The embedded default is the documentation of Python's own standard library: the
docstrings of a fixed list of modules and of their public classes and functions, read
with `inspect.getdoc` from the interpreter that runs rnnkit. It is real, edited English
prose (with some code), present on every machine without a download, and the same for a
given Python version.
"""

import importlib
import inspect
import random
import warnings

from ..checks import check_split_fractions, read_utf8

__all__ = ["DEFAULT_MODULES", "load_default", "read_text", "stdlib_docstrings"]

DEFAULT_MODULES = (
    "argparse", "ast", "asyncio", "base64", "bisect", "calendar", "cmd", "codecs", "collections",
    "concurrent.futures", "configparser", "contextlib", "copy", "csv", "dataclasses", "datetime",
    "decimal", "difflib", "email.message", "enum", "fileinput", "fnmatch", "fractions", "ftplib",
    "functools", "getopt", "gettext", "glob", "gzip", "hashlib", "heapq", "hmac", "html.parser",
    "http.client", "http.server", "imaplib", "inspect", "io", "ipaddress", "itertools", "json",
    "locale", "logging", "logging.handlers", "mailbox", "mimetypes", "multiprocessing", "numbers",
    "operator", "optparse", "os", "pathlib", "pdb", "pickle", "pkgutil", "platform", "plistlib",
    "poplib", "pprint", "queue", "random", "re", "sched", "secrets", "selectors", "shelve", "shlex",
    "shutil", "smtplib", "socket", "socketserver", "sqlite3", "statistics", "string", "struct",
    "subprocess", "tarfile", "tempfile", "textwrap", "threading", "timeit", "tokenize", "trace",
    "traceback", "typing", "unittest", "urllib.parse", "urllib.request", "uuid", "warnings", "wave",
    "weakref", "xml.dom.minidom", "zipfile", "zipimport",
)  # fmt: skip


def stdlib_docstrings(modules=DEFAULT_MODULES, min_chars=100):
    """The docstrings of `modules`, their public classes, methods and functions, in a fixed order.

    Repeated docstrings are kept once; one shorter than `min_chars` characters (a one-line
    summary) is left out. A module missing from this Python build is skipped.
    """
    documents, seen = [], set()
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError:  # e.g. a build without sqlite3
            continue
        members = [module]
        for member_name, member in sorted(vars(module).items()):
            if member_name.startswith("_") or getattr(member, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(member):
                members.append(member)
            elif inspect.isclass(member):  # the class and the methods it defines
                members.append(member)
                members += [
                    method
                    for method_name, method in sorted(vars(member).items())
                    if not method_name.startswith("_") and inspect.isfunction(method)
                ]
        for member in members:
            with warnings.catch_warnings():  # e.g. typing.io's deprecation, raised by reading it
                warnings.simplefilter("ignore", DeprecationWarning)
                doc = inspect.getdoc(member)
            if doc and len(doc) >= min_chars and doc not in seen:
                seen.add(doc)
                documents.append(doc)
    return documents


def load_default(val_fraction=0.05, test_fraction=0.05, max_documents=None, seed=0):
    """`(train, val, test)` lists of documents: the standard-library docstrings, split by document.

    The split is a seeded shuffle of whole docstrings, so no held-out text was seen in
    training. `max_documents` keeps the first documents of the shuffle (a smaller corpus).

    Example:

    >>> train, val, test = load_default(max_documents=40)
    >>> len(train) + len(val) + len(test), all(isinstance(d, str) for d in train)
    (40, True)
    """
    check_split_fractions(val_fraction, test_fraction)
    documents = stdlib_docstrings()
    random.Random(seed).shuffle(documents)
    documents = documents[:max_documents] if max_documents else documents
    n_val = max(1, round(val_fraction * len(documents))) if val_fraction else 0
    n_test = max(1, round(test_fraction * len(documents))) if test_fraction else 0
    n_train = len(documents) - n_val - n_test
    return documents[:n_train], documents[n_train : n_train + n_val], documents[n_train + n_val :]


def read_text(path, argument="data"):
    """A UTF-8 text file as a list of documents, split at blank lines.

    A file without blank lines is one document. A ValueError names `argument` when the
    file is missing, not UTF-8 or holds no text.
    """
    path, text = read_utf8(path, argument)
    documents = [d.strip("\n") for d in text.replace("\r\n", "\n").split("\n\n")]
    documents = [d for d in documents if d.strip()]
    if not documents:
        raise ValueError(f"Argument `{argument}`: {str(path)!r} holds no text.")
    return documents
