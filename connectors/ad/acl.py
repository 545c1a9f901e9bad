"""Reading an object's DACL: whether a token holds an extended (control-access) right on it.

An extended right such as "Reset Password" has no ``allowedAttributesEffective``
entry, so the object's DACL (read with the SD-flags control asking for the DACL
only, which ``READ_CONTROL`` allows) is evaluated against the bind's own token,
the way a control-access right is checked in an object's ACL
(https://learn.microsoft.com/en-us/windows/win32/ad/checking-a-control-access-right-in-an-objectampaposs-acl).
Security descriptors are self-relative (MS-DTYP 2.4.6).
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from connectors.ad.values import sid_to_str

RESET_PASSWORD_RIGHT = uuid.UUID("00299570-246d-11d0-a768-00aa006e0529")
SD_FLAGS_OID = "1.2.840.113556.1.4.801"  # LDAP_SERVER_SD_FLAGS_OID
DACL_SECURITY_INFORMATION = 0x4

# Access mask bits (MS-ADTS 5.1.3.2): control access, and GENERIC_ALL as stored unmapped.
RIGHT_DS_CONTROL_ACCESS = 0x100
GENERIC_ALL = 0x10000000
# ACE types and flags (MS-DTYP 2.4.4.1 and 2.4.4.3).
ACCESS_ALLOWED = 0x00
ACCESS_DENIED = 0x01
ACCESS_ALLOWED_OBJECT = 0x05
ACCESS_DENIED_OBJECT = 0x06
INHERIT_ONLY_ACE = 0x08
ACE_OBJECT_TYPE_PRESENT = 0x1
ACE_INHERITED_OBJECT_TYPE_PRESENT = 0x2


@dataclass(frozen=True, slots=True)
class Ace:
    """One access control entry of a DACL, as far as access checks need it."""

    type: int
    flags: int
    mask: int
    sid: str
    object_type: uuid.UUID | None = None


def parse_dacl(descriptor: bytes) -> list[Ace]:
    """The DACL of a self-relative security descriptor (MS-DTYP 2.4.6), in order.

    An absent DACL gives an empty list. Raises ``ValueError`` on a malformed buffer.
    """
    if len(descriptor) < 20:
        raise ValueError("security descriptor too short")
    dacl_offset = struct.unpack_from("<I", descriptor, 16)[0]
    if dacl_offset == 0:
        return []
    _, _, size, count, _ = struct.unpack_from("<BBHHH", descriptor, dacl_offset)
    end = dacl_offset + size
    if end > len(descriptor):
        raise ValueError("DACL runs past the descriptor")
    aces: list[Ace] = []
    pos = dacl_offset + 8
    for _ in range(count):
        ace_type, ace_flags, ace_size = struct.unpack_from("<BBH", descriptor, pos)
        if ace_size < 8 or pos + ace_size > end:
            raise ValueError("malformed ACE")
        body = descriptor[pos + 4 : pos + ace_size]
        mask = struct.unpack_from("<I", body, 0)[0]
        if ace_type in (ACCESS_ALLOWED, ACCESS_DENIED):
            aces.append(Ace(ace_type, ace_flags, mask, sid_to_str(body[4:])))
        elif ace_type in (ACCESS_ALLOWED_OBJECT, ACCESS_DENIED_OBJECT):
            object_flags = struct.unpack_from("<I", body, 4)[0]
            offset = 8
            object_type = None
            if object_flags & ACE_OBJECT_TYPE_PRESENT:
                object_type = uuid.UUID(bytes_le=bytes(body[offset : offset + 16]))
                offset += 16
            if object_flags & ACE_INHERITED_OBJECT_TYPE_PRESENT:
                offset += 16
            aces.append(Ace(ace_type, ace_flags, mask, sid_to_str(body[offset:]), object_type))
        # Other types (audit, callback, mandatory label) never grant a control access right.
        pos += ace_size
    return aces


def has_control_access(aces: Iterable[Ace], sids: Iterable[str], right: uuid.UUID) -> bool:
    """Whether ``sids`` are granted extended right ``right`` by ``aces``.

    ACEs are taken in order and the first that names the right for one of the SIDs
    decides: an object ACE names it by its ObjectType (or with none, every right),
    a plain ACE with the control-access bit names every right. Inherit-only ACEs
    are for children and are skipped.
    """
    token = set(sids)
    for ace in aces:
        if ace.flags & INHERIT_ONLY_ACE or ace.sid not in token:
            continue
        if not ace.mask & (RIGHT_DS_CONTROL_ACCESS | GENERIC_ALL):
            continue
        if ace.type in (ACCESS_ALLOWED_OBJECT, ACCESS_DENIED_OBJECT):
            if ace.object_type is not None and ace.object_type != right:
                continue
            return ace.type == ACCESS_ALLOWED_OBJECT
        if ace.type in (ACCESS_ALLOWED, ACCESS_DENIED):
            return ace.type == ACCESS_ALLOWED
    return False


def sd_control() -> list[tuple[str, bool, bytes]]:
    """The LDAP control that asks for ``nTSecurityDescriptor`` with its DACL only."""
    # BER of SDFlagsRequestValue ::= SEQUENCE { Flags INTEGER }, asking for the DACL only:
    # reading the SACL too would need ACCESS_SYSTEM_SECURITY and drop the attribute.
    # https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-adts/3888c2b7-35b9-45b7-afeb-b772aa932dd0
    value = bytes([0x30, 0x03, 0x02, 0x01, DACL_SECURITY_INFORMATION])
    return [(SD_FLAGS_OID, True, value)]
