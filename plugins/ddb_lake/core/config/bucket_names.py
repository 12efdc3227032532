"""Bucket naming rules of S3 and GCS, so a bad name fails when the YAML is read, not at the first upload.

S3: https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html (general purpose buckets).
GCS: https://cloud.google.com/storage/docs/buckets#naming. Pure: imports no Airflow.
"""

from __future__ import annotations

import re

_IP_ADDRESS = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_S3_CHARS = re.compile(r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$")
_S3_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_S3_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_GCS_CHARS = re.compile(r"^[a-z0-9][a-z0-9._-]*[a-z0-9]$")


def s3_bucket_problem(name: str) -> str | None:
    """What is wrong with ``name`` as an S3 bucket name, or None."""
    if not 3 <= len(name) <= 63:
        return f"{name!r} must be 3 to 63 characters long"
    if not _S3_CHARS.match(name):
        return (f"{name!r} may hold only lowercase letters, digits, dots and hyphens, and start and end with a "
                "letter or digit")
    if ".." in name:
        return f"{name!r} must not hold two adjacent dots"
    if _IP_ADDRESS.match(name):
        return f"{name!r} must not look like an IP address"
    if name.startswith(_S3_RESERVED_PREFIXES) or name.endswith(_S3_RESERVED_SUFFIXES):
        reserved = ", ".join(_S3_RESERVED_PREFIXES + _S3_RESERVED_SUFFIXES)
        return f"{name!r} uses a prefix or suffix S3 reserves ({reserved})"
    return None


def gcs_bucket_problem(name: str) -> str | None:
    """What is wrong with ``name`` as a GCS bucket name, or None."""
    longest = 222 if "." in name else 63
    if not 3 <= len(name) <= longest or any(len(part) > 63 for part in name.split(".")):
        return f"{name!r} must be 3 to 63 characters long (222 with dots, each dot-separated part at most 63)"
    if not _GCS_CHARS.match(name):
        return (f"{name!r} may hold only lowercase letters, digits, dashes, underscores and dots, and start and end "
                "with a letter or digit")
    if _IP_ADDRESS.match(name):
        return f"{name!r} must not look like an IP address"
    if name.startswith("goog") or "google" in name:
        return f"{name!r} must not start with 'goog' or contain 'google'"
    return None
