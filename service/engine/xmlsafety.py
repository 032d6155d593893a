"""Parse BPMN text with a hardened XML parser before the engine sees it.

SpiffWorkflow parses with lxml's defaults; an older or distribution lxml
resolves external entities. We parse ourselves with entities, DTDs and the
network off, refuse any DOCTYPE, and hand the engine the element tree.
"""

from __future__ import annotations

from lxml import etree

from service.engine.errors import DefinitionError
from service.errors import N_

MAX_BPMN_BYTES = 5 * 1024 * 1024


def parse_xml_safely(data: str | bytes, *, what: str = "BPMN") -> etree._Element:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > MAX_BPMN_BYTES:
        raise DefinitionError.of(
            N_(
                "The %(what)s file is %(size)s KiB; the limit is %(limit)s KiB. "
                "Split the process or remove embedded content."
            ),
            what=what,
            size=len(raw) // 1024,
            limit=MAX_BPMN_BYTES // 1024,
        )
    head = raw[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in raw.lower():
        raise DefinitionError.of(
            N_(
                "The %(what)s file contains a DOCTYPE or entity declaration. These are not "
                "allowed (they can read files or exhaust memory); save the file without one."
            ),
            what=what,
        )
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(raw, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise DefinitionError.of(
            N_("The %(what)s file is not well-formed XML: %(detail)s"), what=what, detail=str(exc)
        ) from exc
    if root.getroottree().docinfo.doctype:
        raise DefinitionError.of(N_("The %(what)s file declares a DOCTYPE; remove it."), what=what)
    return root
