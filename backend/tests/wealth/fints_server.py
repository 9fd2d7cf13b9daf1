"""A small FinTS 3.0 PIN/TAN bank on 127.0.0.1 for the FinTS integration's tests.

It reads the client's messages with python-fints' own parser and answers dialog
initialisation (bank and user parameter data), synchronisation (a system id), SEPA account
lists (HKSPA), balances (HKSAL) and depot holdings (HKWPD, MT535), one-step PIN/TAN.
"""

from __future__ import annotations

import base64
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fints.formals import (
    BankIdentifier,
    EncryptionAlgorithm,
    KeyName,
    SecurityDateTime,
    SecurityIdentificationDetails,
    SecurityProfile,
)
from fints.parser import FinTS3Parser
from fints.segments.message import HNHBK3, HNHBS1, HNVSD1, HNVSK3
from fints.types import SegmentSequence

BLZ = "37040044"
PIN = "12345"
TAN = "246810"
# A two-step TAN mechanism (security function 942, TAN process 2), HITANS version 6.
HITANS = "HITANS:18:6:4+1+1+1+J:N:0:942:2:MTAN2:::mobile TAN:6:1:SMS:2048:N:1:N:0:0:N:N:00:0:N:1'"
GIRO_IBAN = "DE89370400440532013000"
DEPOT_IBAN = "DE02370400440532013001"

BPD = (
    f"HIBPA:10:3:4+7+280:{BLZ}+Flowlet Test Bank+3+1+300'"
    "HIPINS:11:1:4+1+1+0+5:20:6:Benutzer ID::HKSPA:N:HKSAL:N:HKWPD:N'"
    "HISPAS:12:1:4+1+1+0+J:N:N'"
    "HISALS:13:6:4+1+1+0'"
    "HIWPDS:14:6:4+1+1+0+N:N:N'"
)
UPD = (
    "HIUPA:15:4:4+testuser+3+0'"
    f"HIUPD:16:6:4+0532013000::280:{BLZ}+{GIRO_IBAN}+testuser+1+EUR+Test User++Girokonto'"
    f"HIUPD:17:6:4+0532013001::280:{BLZ}+{DEPOT_IBAN}+testuser+30+EUR+Test User++Depot'"
)

MT535 = "\r\n".join(
    [
        "",
        ":16R:GENL",
        ":16S:GENL",
        ":16R:FIN",
        ":35B:ISIN DE0007164600",
        "/DE/716460",
        "SAP SE",
        ":90B::MRKT//ACTU/EUR180,50",
        ":98A::PRIC//20261130",
        ":93B::AGGR//UNIT/12,",
        ":19A::HOLD//EUR2166,00",
        ":70E::HOLD//1STK150,25+EUR",
        ":16S:FIN",
        "-",
    ]
)


class FinTSBank:
    """The bank's state: dialogs opened, and every segment type received (for assertions)."""

    def __init__(self, *, tan_required: bool = False) -> None:
        self.tan_required = tan_required
        self.received: list[str] = []
        self.pins: list[str] = []
        self.tans: list[str] = []
        self.pending: set[str] = set()
        state = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                raw = base64.b64decode(self.rfile.read(int(self.headers["Content-Length"])))
                answer = base64.b64encode(state.answer(raw))
                self.send_response(200)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def __enter__(self) -> FinTSBank:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def answer(self, raw: bytes) -> bytes:
        message = FinTS3Parser().parse_message(raw)
        header = message.find_segment_first("HNHBK")
        dialog_id = header.dialog_id if header.dialog_id != "0" else uuid.uuid4().hex[:12]
        segments = list(message.find_segments(callback=lambda s: s.header.type.startswith("HK")))
        self.received.extend(s.header.type for s in segments)
        signature = message.find_segment_first("HNSHA")
        pin = signature.user_defined_signature.pin if signature else None
        tan = signature.user_defined_signature.tan if signature else None
        self.pins.append(pin)
        if tan:
            self.tans.append(tan)
        if pin != PIN:
            inner = "HIRMG:2:2+9910::PIN ungültig.'"
        else:
            inner = "HIRMG:2:2+0010::Nachricht entgegengenommen.'" + "".join(
                self._reply(s, tan) for s in segments
            )
        return self._envelope(dialog_id, header.message_number, inner.encode("iso-8859-1"))

    def _reply(self, seg, tan: str | None) -> str:
        ref = seg.header.number
        kind = seg.header.type
        if kind == "HKVVB":
            mechanism = "942" if self.tan_required else "999"
            return (
                f"HIRMS:3:2:{ref}+3050::BPD nicht mehr aktuell+3920::TAN-Verfahren:{mechanism}"
                "+0020::Dialog initialisiert.'" + BPD + (HITANS if self.tan_required else "") + UPD
            )
        if kind == "HKTAN" and seg.tan_process == "4":  # strong authentication of the dialog
            reference = uuid.uuid4().hex[:20]
            self.pending.add(reference)
            return (
                f"HIRMS:8:2:{ref}+0030::Auftragsfreigabe erforderlich.'"
                f"HITAN:9:6:{ref}+4++{reference}+Bitte die per SMS gesendete TAN eingeben.'"
            )
        if kind == "HKTAN" and seg.tan_process == "2":
            if seg.task_reference in self.pending and tan == TAN:
                self.pending.discard(seg.task_reference)
                return f"HIRMS:8:2:{ref}+0020::Auftrag ausgeführt.'"
            return f"HIRMS:8:2:{ref}+9941::TAN ungültig.'"
        if kind == "HKSYN":
            return f"HISYN:4:4:{ref}+flowlet-test-system'"
        if kind == "HKSPA":
            return (
                f"HIRMS:5:2:{ref}+0020::Auftrag ausgeführt.'"
                f"HISPA:6:1:{ref}+J:{GIRO_IBAN}:COBADEFFXXX:0532013000::280:{BLZ}"
                f"+J:{DEPOT_IBAN}:COBADEFFXXX:0532013001::280:{BLZ}'"
            )
        if kind == "HKSAL":
            number = seg.account.account_number
            amount = "2166," if number.endswith("1") else "1234,56"
            return (
                f"HIRMS:5:2:{ref}+0020::Auftrag ausgeführt.'"
                f"HISAL:6:6:{ref}+{number}::280:{BLZ}+Konto+EUR+C:{amount}:EUR:20261201'"
            )
        if kind == "HKWPD":
            if not seg.account.account_number.endswith("1"):
                return f"HIRMS:5:2:{ref}+3010::Keine Depotpositionen vorhanden.'"
            data = MT535.encode("iso-8859-1")
            return (
                f"HIRMS:5:2:{ref}+0020::Auftrag ausgeführt.'"
                f"HIWPD:6:6:{ref}+@{len(data)}@" + data.decode("iso-8859-1") + "'"
            )
        if kind == "HKEND":
            return f"HIRMS:7:2:{ref}+0100::Dialog beendet.'"
        return ""

    def _envelope(self, dialog_id: str, number: int, inner: bytes) -> bytes:
        reply = SegmentSequence(
            [
                HNHBK3(hbci_version=300, dialog_id=dialog_id, message_number=number),
                HNVSK3(
                    SecurityProfile("PIN", "1"),
                    "998",
                    "1",
                    SecurityIdentificationDetails("1", None, "0"),
                    SecurityDateTime("1"),
                    EncryptionAlgorithm("2", "2", "13", None, "5", "1"),
                    KeyName(BankIdentifier("280", BLZ), "0", "S", 0, 0),
                    "0",
                ),
                HNVSD1(),
                HNHBS1(message_number=number),
            ]
        )
        reply.segments[2].data = inner
        reply.segments[0].header.number = 1
        reply.segments[1].header.number = 998
        reply.segments[3].header.number = 2
        return reply.render_bytes()
