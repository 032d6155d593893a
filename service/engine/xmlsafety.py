"""Parse BPMN text with a hardened XML parser before the engine sees it.

SpiffWorkflow parses with lxml's defaults; an older or distribution lxml
resolves external entities. We parse ourselves with entities, DTDs and the
network off, refuse any DOCTYPE, and hand the engine the element tree.
"""

from __future__ import annotations

from lxml import etree

from service.engine.errors import DefinitionError

MAX_BPMN_BYTES = 5 * 1024 * 1024


def parse_xml_safely(data: str | bytes, *, what: str = "BPMN") -> etree._Element:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > MAX_BPMN_BYTES:
        raise DefinitionError(
            f"The {what} file is {len(raw) // 1024} KiB; the limit is "
            f"{MAX_BPMN_BYTES // 1024} KiB. Split the process or remove embedded content."
        )
    head = raw[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in raw.lower():
        raise DefinitionError(
            f"The {what} file contains a DOCTYPE or entity declaration. These are not "
            "allowed (they can read files or exhaust memory); save the file without one."
        )
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(raw, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise DefinitionError(f"The {what} file is not well-formed XML: {exc}") from exc
    if root.getroottree().docinfo.doctype:
        raise DefinitionError(f"The {what} file declares a DOCTYPE; remove it.")
    return root
