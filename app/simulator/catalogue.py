"""The simulated procedure catalogue (danh mục TTHC), departments (sở) and Vietnamese texts.

Codes look like national TTHC codes ("1.009972"); names, statutory days and fees follow real
procedures closely but are illustrative, not an authoritative copy of the national catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass

COMMUNE = "commune"  # authority: the commune itself (UBND cấp xã)

# Departments registered under every province (post-2025 names; codes like "22.SXD").
DEPARTMENTS: dict[str, str] = {
    "SXD": "Sở Xây dựng",
    "SNNMT": "Sở Nông nghiệp và Môi trường",
    "STC": "Sở Tài chính",
    "STP": "Sở Tư pháp",
    "SYT": "Sở Y tế",
    "SGDDT": "Sở Giáo dục và Đào tạo",
    "SCT": "Sở Công Thương",
    "SNV": "Sở Nội vụ",
    "SVHTTDL": "Sở Văn hóa, Thể thao và Du lịch",
}


@dataclass(frozen=True, slots=True)
class ProcedureSpec:
    """One procedure of the catalogue; registered once per authority unit."""

    slug: str  # the key's suffix: "22.SXD.p-xd-001", "07090.p-tp-101"
    code: str  # national TTHC-like code
    name: str
    authority: str  # a DEPARTMENTS abbreviation, or COMMUNE
    statutory_days: int  # working days; 0 = same day
    fee_vnd: int
    max_level: str  # the best online level it can reach: none, partial, full
    requires_result_document: bool
    citizen_target: bool
    weight: float  # relative demand (dossiers per day)
    components: tuple[str, ...]

    @property
    def full_online_eligible(self) -> bool:
        return self.max_level == "full"

    @property
    def same_day(self) -> bool:
        """"5 tại chỗ": receive, appraise, approve, stamp and return at the counter."""
        return self.statutory_days <= 1


def _p(slug: str, code: str, name: str, authority: str, days: int, fee: int, level: str,
       result_doc: bool, citizen: bool, weight: float, *components: str) -> ProcedureSpec:
    return ProcedureSpec(slug, code, name, authority, days, fee, level, result_doc, citizen,
                         weight, components)


DON = "Đơn đề nghị (theo mẫu)"
CCCD = "Căn cước công dân"

CATALOGUE: tuple[ProcedureSpec, ...] = (
    # Sở Xây dựng
    _p("p-xd-001", "1.009972", "Cấp giấy phép xây dựng mới đối với công trình", "SXD", 15,
       150_000, "partial", True, True, 1.2, DON, "Bản vẽ thiết kế", "Giấy tờ về quyền sử dụng đất"),
    _p("p-xd-002", "1.009986", "Cấp chứng chỉ hành nghề hoạt động xây dựng hạng II, hạng III",
       "SXD", 20, 300_000, "full", True, True, 0.4, DON, "Văn bằng chuyên môn", "Ảnh chân dung"),
    _p("p-xd-003", "1.011663", "Thẩm định thiết kế xây dựng triển khai sau thiết kế cơ sở",
       "SXD", 20, 500_000, "partial", True, False, 0.3, "Tờ trình thẩm định", "Hồ sơ thiết kế"),
    _p("p-xd-004", "1.001023", "Cấp giấy phép lưu hành xe quá tải trọng, xe quá khổ giới hạn",
       "SXD", 2, 0, "full", True, False, 0.6, DON, "Giấy đăng ký xe", "Sơ đồ xe"),
    # Sở Nông nghiệp và Môi trường
    _p("p-nm-001", "1.004227", "Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn "
       "liền với đất", "SNNMT", 10, 50_000, "partial", True, True, 2.5, DON,
       "Giấy chứng nhận đã cấp", "Hợp đồng chuyển nhượng"),
    _p("p-nm-002", "1.012745", "Cấp Giấy chứng nhận quyền sử dụng đất lần đầu", "SNNMT", 20,
       100_000, "partial", True, True, 0.8, DON, "Giấy tờ về nguồn gốc đất", "Sơ đồ thửa đất"),
    _p("p-nm-003", "1.004253", "Cấp giấy phép khai thác, sử dụng nước mặt", "SNNMT", 20,
       600_000, "partial", True, False, 0.1, DON, "Đề án khai thác", "Kết quả phân tích nước"),
    _p("p-nm-004", "1.003984", "Cấp Giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm nông, "
       "lâm, thủy sản", "SNNMT", 15, 700_000, "full", True, False, 0.3, DON,
       "Bản thuyết minh điều kiện cơ sở"),
    # Sở Tài chính (đăng ký doanh nghiệp, đầu tư)
    _p("p-tc-001", "2.001610", "Đăng ký thành lập doanh nghiệp tư nhân", "STC", 3, 50_000,
       "full", True, False, 1.0, "Giấy đề nghị đăng ký doanh nghiệp", CCCD),
    _p("p-tc-002", "2.002042", "Đăng ký thay đổi nội dung đăng ký doanh nghiệp", "STC", 3,
       50_000, "full", True, False, 1.4, "Thông báo thay đổi", "Nghị quyết của chủ sở hữu"),
    _p("p-tc-003", "1.009645", "Chấp thuận chủ trương đầu tư của Ủy ban nhân dân cấp tỉnh",
       "STC", 20, 0, "partial", True, False, 0.1, "Văn bản đề nghị thực hiện dự án",
       "Đề xuất dự án đầu tư"),
    # Sở Tư pháp
    _p("p-tp-001", "2.000488", "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam", "STP", 10,
       200_000, "full", True, True, 1.5, "Tờ khai yêu cầu cấp Phiếu lý lịch tư pháp", CCCD),
    _p("p-tp-002", "2.000967", "Đăng ký hoạt động Văn phòng công chứng", "STP", 10, 1_000_000,
       "partial", True, False, 0.05, DON, "Quyết định cho phép thành lập"),
    # Sở Y tế
    _p("p-yt-001", "1.012270", "Cấp giấy phép hành nghề khám bệnh, chữa bệnh", "SYT", 20,
       360_000, "partial", True, True, 0.4, DON, "Văn bằng chuyên môn", "Giấy khám sức khỏe"),
    _p("p-yt-002", "1.002339", "Cấp Giấy chứng nhận đủ điều kiện kinh doanh dược", "SYT", 15,
       1_000_000, "partial", True, False, 0.2, DON, "Tài liệu kỹ thuật về cơ sở"),
    # Sở Giáo dục và Đào tạo
    _p("p-gd-001", "1.006390", "Chuyển trường đối với học sinh trung học phổ thông", "SGDDT", 3,
       0, "full", False, True, 0.5, DON, "Học bạ"),
    _p("p-gd-002", "1.005092", "Cấp bản sao văn bằng, chứng chỉ từ sổ gốc", "SGDDT", 0, 0,
       "full", True, True, 0.8, DON, CCCD),
    # Sở Công Thương
    _p("p-ct-001", "2.000620", "Cấp Giấy phép bán lẻ sản phẩm thuốc lá", "SCT", 15, 1_200_000,
       "partial", True, False, 0.2, DON, "Giấy chứng nhận đăng ký kinh doanh"),
    _p("p-ct-002", "2.000190", "Cấp Giấy chứng nhận đủ điều kiện cửa hàng bán lẻ LPG chai",
       "SCT", 15, 1_200_000, "full", True, False, 0.1, DON, "Bản vẽ mặt bằng cửa hàng"),
    # Sở Nội vụ (lao động, việc làm)
    _p("p-nv-001", "1.000105", "Cấp giấy phép lao động cho người lao động nước ngoài làm việc "
       "tại Việt Nam", "SNV", 5, 600_000, "partial", True, False, 0.4, DON, "Hộ chiếu",
       "Giấy chứng nhận sức khỏe"),
    _p("p-nv-002", "1.001978", "Giải quyết hưởng trợ cấp thất nghiệp", "SNV", 20, 0, "full",
       True, True, 1.2, "Đề nghị hưởng trợ cấp thất nghiệp", "Quyết định thôi việc"),
    # Sở Văn hóa, Thể thao và Du lịch
    _p("p-vh-001", "1.004628", "Cấp giấy phép kinh doanh dịch vụ lữ hành nội địa", "SVHTTDL",
       10, 3_000_000, "full", True, False, 0.1, DON, "Giấy chứng nhận ký quỹ"),
    _p("p-vh-002", "1.001029", "Tổ chức biểu diễn nghệ thuật, trình diễn thời trang", "SVHTTDL",
       5, 0, "full", True, False, 0.2, "Văn bản thông báo", "Danh mục tác phẩm"),
    # UBND cấp xã
    _p("p-xa-001", "1.001193", "Đăng ký khai sinh", COMMUNE, 0, 0, "full", True, True, 6.0,
       "Tờ khai đăng ký khai sinh", "Giấy chứng sinh"),
    _p("p-xa-002", "1.000894", "Đăng ký kết hôn", COMMUNE, 0, 0, "partial", True, True, 1.5,
       "Tờ khai đăng ký kết hôn", CCCD),
    _p("p-xa-003", "1.000656", "Đăng ký khai tử", COMMUNE, 0, 0, "full", True, True, 1.8,
       "Tờ khai đăng ký khai tử", "Giấy báo tử"),
    _p("p-xa-004", "2.000815", "Chứng thực bản sao từ bản chính giấy tờ, văn bản", COMMUNE, 0,
       2_000, "full", True, True, 14.0, "Bản chính giấy tờ", "Bản sao cần chứng thực"),
    _p("p-xa-005", "2.000884", "Chứng thực chữ ký trong các giấy tờ, văn bản", COMMUNE, 0,
       10_000, "partial", True, True, 3.0, "Giấy tờ cần chứng thực chữ ký", CCCD),
    _p("p-xa-006", "2.000720", "Đăng ký thành lập hộ kinh doanh", COMMUNE, 3, 100_000, "full",
       True, False, 1.6, "Giấy đề nghị đăng ký hộ kinh doanh", CCCD),
    _p("p-xa-007", "1.004873", "Cấp Giấy xác nhận tình trạng hôn nhân", COMMUNE, 3, 0, "full",
       True, True, 2.5, "Tờ khai cấp Giấy xác nhận tình trạng hôn nhân", CCCD),
    _p("p-xa-008", "1.001776", "Thực hiện trợ cấp xã hội hằng tháng đối với người cao tuổi",
       COMMUNE, 15, 0, "partial", True, True, 0.6, "Tờ khai đề nghị trợ giúp xã hội", CCCD),
    _p("p-xa-009", "1.009973", "Cấp giấy phép xây dựng đối với nhà ở riêng lẻ", COMMUNE, 15,
       75_000, "partial", True, True, 1.2, DON, "Bản vẽ thiết kế nhà ở",
       "Giấy chứng nhận quyền sử dụng đất"),
)

REFUSAL_REASONS = (
    "Không thuộc thẩm quyền giải quyết",
    "Hồ sơ không đúng thành phần theo quy định",
    "Người nộp không có giấy tờ tùy thân hợp lệ",
)
SUPPLEMENT_REASONS = (
    "Thiếu bản vẽ mặt bằng",
    "Bản sao chưa được chứng thực",
    "Thông tin trên tờ khai chưa khớp với Cơ sở dữ liệu quốc gia về dân cư",
    "Thiếu chữ ký của người đề nghị",
    "Cần bổ sung giấy tờ chứng minh quyền sử dụng đất",
)
REJECTION_REASONS = (
    "Hồ sơ không đủ điều kiện theo quy định",
    "Kết quả thẩm định không đạt yêu cầu",
)
STOP_REASONS = (
    "Quá thời hạn bổ sung hồ sơ nhưng công dân không bổ sung",
    "Có văn bản đề nghị dừng của cơ quan có thẩm quyền",
)
APOLOGY_REASONS = (
    "Chờ ý kiến phối hợp của cơ quan liên quan",
    "Khối lượng hồ sơ tăng đột biến",
    "Hệ thống phần mềm một cửa điện tử gặp sự cố",
    "Cần xác minh thực địa",
)
