# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""Exceptions shared by the collection.

Every failure the collection reports is one of these, so modules can turn it into one readable
``fail_json`` message with structured details, and never a traceback.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class AtpError(Exception):
    """Base class. ``details`` holds safe, structured facts (status, codes) for the module result."""

    def __init__(self, message, **details):
        super(AtpError, self).__init__(message)
        self.message = message
        self.details = dict((k, v) for k, v in details.items() if v is not None)

    def __str__(self):
        return self.message


class AtpOptionError(AtpError):
    """Bad or inconsistent options, detected before any request is sent."""


class AtpAuthError(AtpError):
    """The token endpoint refused to issue a token, or a given token cannot be used."""


class AtpTransportError(AtpError):
    """The request did not get an HTTP answer (TLS, DNS, connection, timeout)."""


class AtpApiError(AtpError):
    """The API answered with an error status."""

    def __init__(self, message, status=None, code=None, api_message=None, **details):
        super(AtpApiError, self).__init__(message, status=status, code=code, api_message=api_message, **details)
        self.status = status
        self.code = code
        self.api_message = api_message


class AtpWriteOutcomeUnknown(AtpTransportError):
    """A non-idempotent request was sent but no answer came back: it may or may not have been applied.

    Callers must re-read the state before sending the write again, so an action is never done twice.
    """


class AtpPermissionError(AtpError):
    """A token lacks permissions required for the requested work."""

    def __init__(self, message, missing=None, **details):
        super(AtpPermissionError, self).__init__(message, missing_permissions=missing, **details)
        self.missing = missing or []


def stops_the_rest(error):
    """Whether ``error`` would refuse every other object of the task too, so the requests not yet sent are not sent.

    True for a 401 (the API rejects the token; the HTTP client has already replaced it once where it could), and for a
    403 that names a missing permission (Defender's "Missing application roles. API required roles: ...", kept in
    ``details['missing_permissions']``): neither depends on the object. Any other 403 is about that object alone and
    the others go on: for user tokens Defender checks each machine's and alert's device group, ``DisallowedOperation``
    and ``DisabledFeature`` are 403s too (common-errors.md), and BatchDelete answers 403 for one indicator's device
    groups (batch-delete-ti-indicators.md). Every other error (400, 404, 5xx, transport) is per object as well.
    """
    if not isinstance(error, AtpApiError):
        return False
    if error.status == 401:
        return True
    return error.status == 403 and bool(error.details.get('missing_permissions'))


def summary_counts(results, **extra):
    """The ``summary`` of a task over many objects: ``total``, and how many ``failed`` (they have an ``error``),
    ``changed`` and ``unchanged`` (each object counted once, its error first), then the ``extra`` counts."""
    summary = dict(total=len(results), changed=0, unchanged=0, failed=0)
    for result in results:
        summary['failed' if result.error else 'changed' if result.changed else 'unchanged'] += 1
    summary.update(extra)
    return summary


def not_sent(earlier, reason):
    """The error of an object whose request was not sent because an ``earlier`` one of the task was refused for every
    object (``stops_the_rest``): "not sent: an earlier update was refused (<why>)"."""
    return 'not sent: an earlier %s was refused (%s)' % (earlier, reason)


# How bulk_or_each went: the bulk request was answered; it was refused and each object got its own request; it got no
# answer and what it may have missed was sent again; it was refused for every object.
BULK = 'bulk'
EACH = 'each'
UNKNOWN = 'unknown'
STOPPED = 'stopped'


def bulk_or_each(bulk, each, unknown=None, fall_back_on=AtpError):
    """Send one bulk request for many objects, or one request each when the API refuses the bulk one.

    ``bulk()`` sends the bulk request and returns its answer: ``(BULK, answer)``. When it raises:

    * an error that ``stops_the_rest`` (a 401, a missing permission): nothing more is sent; ``(STOPPED, error)``;
    * any other error of ``fall_back_on``: one bad object may refuse the whole call (a 400, a 404, a 403 for one
      object's device group), so ``each()`` sends one request per object, which fails the bad one alone and names
      it; ``(EACH, what each() returned)``;
    * ``AtpWriteOutcomeUnknown`` (a write without an answer: some, all or none of it may be applied), when ``unknown``
      is given: ``unknown()`` reads the objects again and sends what is missing; ``(UNKNOWN, what it returned)``.

    Any other error is raised. The three bulk writes use it: alerts' batchUpdate, tags' bulk call, indicators'
    BatchDelete.
    """
    try:
        return BULK, bulk()
    except AtpWriteOutcomeUnknown:
        if unknown is None:
            raise
        return UNKNOWN, unknown()
    except fall_back_on as error:  # pylint: disable=broad-except  # AtpError or a subclass, never anything else
        if stops_the_rest(error):
            return STOPPED, error
        return EACH, each()
