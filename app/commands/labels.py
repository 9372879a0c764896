"""Vietnamese labels for what officials read: dossier events and statuses, unit kinds, channels,
and the fields of a dossier's state."""

from __future__ import annotations

EVENTS = {
    "submitted": "Nộp hồ sơ",
    "received": "Tiếp nhận",
    "refused": "Từ chối tiếp nhận",
    "supplement_requested": "Yêu cầu bổ sung",
    "supplement_completed": "Đã bổ sung",
    "transferred": "Chuyển xử lý",
    "appraised": "Thẩm định",
    "approved": "Phê duyệt",
    "signed": "Ký duyệt",
    "fee_requested": "Yêu cầu nộp phí, lệ phí",
    "fee_paid": "Nộp phí, lệ phí",
    "resolved": "Giải quyết xong",
    "result_returned": "Trả kết quả",
    "apology_issued": "Xin lỗi, hẹn lại",
    "rejected": "Từ chối giải quyết",
    "stopped": "Dừng xử lý",
    "withdrawn": "Rút hồ sơ",
    "synced": "Đồng bộ lên Cổng DVC quốc gia",
    "rated": "Đánh giá",
}
"""Dossier events (``dossier.<name>``)."""

STATUSES = {
    "not yet submitted": "chưa nộp",
    "submitted": "mới nộp",
    "received": "đã tiếp nhận",
    "refused": "từ chối tiếp nhận",
    "in_process": "đang xử lý",
    "supplement_requested": "chờ bổ sung",
    "fee_requested": "chờ nộp phí, lệ phí",
    "withdrawn": "đã rút",
    "stopped": "dừng xử lý",
    "rejected": "từ chối giải quyết",
    "resolved": "đã xử lý xong",
    "returned": "đã trả kết quả",
}
"""Dossier statuses (trạng thái hồ sơ), as on the national portal (docs/events.md)."""

UNIT_KINDS = {
    "province": "tỉnh, thành phố",
    "department": "sở, ban, ngành",
    "commune": "xã, phường",
    "ministry": "bộ, ngành",
    "agency": "cơ quan",
}

CHANNELS = {"direct": "trực tiếp", "online": "trực tuyến", "postal": "bưu chính"}

STATE_FIELDS = {
    "status": "Trạng thái",
    "portal_status": "Mã trạng thái (Cổng DVC)",
    "procedure": "Thủ tục",
    "unit": "Đơn vị",
    "channel": "Kênh nộp",
    "received_at": "Tiếp nhận lúc",
    "due_at": "Hạn trả ban đầu",
    "current_due_at": "Hạn trả hiện tại",
    "supplement_open_since": "Chờ bổ sung từ",
    "supplement_requests": "Số lần yêu cầu bổ sung",
    "late": "Quá hạn",
    "ended_by": "Kết thúc bằng",
    "ended_at": "Kết thúc lúc",
    "rated_satisfied": "Hài lòng",
    "synced": "Đã đồng bộ lên Cổng DVC",
}
"""The fields of ``dossier history``'s state."""


def event_label(event_type: str) -> str:
    """``dossier.received`` → ``Tiếp nhận``; an unknown type as it is."""
    return EVENTS.get(event_type.rpartition(".")[2], event_type)


def status_label(status: str) -> str:
    return STATUSES.get(status, status)


def kind_label(kind: str) -> str:
    return UNIT_KINDS.get(kind, kind)
