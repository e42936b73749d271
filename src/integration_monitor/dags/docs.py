"""Vietnamese documentation shown on each DAG's page in the Airflow UI."""

from __future__ import annotations

from integration_monitor.catalog.models import Catalog, NationalDatabase


def database_dag_doc(database: NationalDatabase, catalog: Catalog, schedule: str | None) -> str:
    owner = catalog.owner(database.owner)
    services = catalog.services_reading(database.code)
    service_lines = "\n".join(f"- Dịch vụ {service.number}: {service.name}" for service in services)
    return f"""### Giám sát kết nối: {database.name}

**Bộ chủ quản dữ liệu:** {owner.name}
**Lịch chạy:** `{schedule or 'chạy thủ công'}`
**Kết nối Airflow:** `national_db_{database.code}` (địa chỉ, mã khách hàng và khóa bí mật của điểm cung cấp dữ liệu)

Mỗi lần chạy gồm ba bước:
1. `fetch`: lấy mã truy cập (OAuth2 client credentials), đọc một lô bản ghi, kiểm tra chữ ký số theo
   chứng thư của CA, và chỉ giữ lại dấu hiệu có/thiếu của từng trường (không giữ giá trị dữ liệu cá nhân).
   Khi không kết nối được, bước này báo lỗi (màu đỏ) với loại lỗi cụ thể.
2. `validate`: đánh giá bằng bộ kỳ vọng Great Expectations `expectations/{database.code}.json`:
   đủ cột, tỷ lệ đầy đủ của từng trường bắt buộc, tỷ lệ bản ghi có chữ ký số và chữ ký hợp lệ.
3. `record`: ghi kết quả (OK, DEGRADED, BROKEN, NO_DATA) vào kho trạng thái, mở hoặc đóng sự cố,
   gửi cảnh báo khi trạng thái thay đổi, rồi báo cho bước tổng hợp trạng thái dịch vụ công.
4. `outcome`: đánh dấu lần chạy thất bại (màu đỏ) khi CSDL mất kết nối hoặc không có dữ liệu; kết quả vẫn
   đã được ghi ở bước 3.

**Các dịch vụ công sử dụng CSDL này ({len(services)}):**
{service_lines}
"""


def compaction_dag_doc(schedule: str | None, keep_days: float, keep_detail_days: float) -> str:
    return f"""### Thu gọn kho trạng thái

**Lịch chạy:** `{schedule or 'chạy thủ công'}` (giờ UTC; mặc định 02:30 giờ Việt Nam)

Mỗi lần chạy, bước `compact_store` cộng dồn các lần kiểm tra mới vào bảng tổng hợp theo giờ, rồi xóa:
- các lần kiểm tra CSDL và kết quả đánh giá dịch vụ công cũ hơn {keep_days:g} ngày;
- số liệu từng trường và quyền truy cập của từng dịch vụ cũ hơn {keep_detail_days:g} ngày.

Chỉ xóa dòng đã được cộng vào bảng theo giờ. Lần kiểm tra mới nhất của mỗi CSDL và kết quả mới nhất của
mỗi dịch vụ luôn được giữ. Bảng theo giờ, sự cố và cảnh báo không bị xóa, nên bảng điều khiển vẫn hiển thị
lịch sử. Đổi thời hạn trong `include/monitoring.yaml` (`keep_days`, `keep_detail_days`); chạy tay bằng
`integration-monitor store compact`.
"""


def rollup_dag_doc(catalog: Catalog) -> str:
    return f"""### Tổng hợp trạng thái toàn trình của {len(catalog.services)} dịch vụ công

Chạy mỗi khi một CSDL có kết quả kiểm tra mới. Một dịch vụ đạt **toàn trình** khi mọi CSDL mà dịch vụ
sử dụng đều kết nối được, đủ các trường bắt buộc, có chữ ký số hợp lệ và cho phép mã dịch vụ truy cập;
nếu không, dịch vụ được ghi **chưa toàn trình** kèm lý do (CSDL nào, trường nào, chữ ký nào).
"""
