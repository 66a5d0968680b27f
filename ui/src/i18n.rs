//! Simplified Chinese by default, English on request. Keys are the Chinese text's meaning;
//! domain enums have their own label functions.

use shared::app::LocalState;
use shared::inspection::{
    ChecklistResult, ColourGrade, FacilityRunningState, InspectionKind, OdourGrade, TaskSource,
};
use shared::site::{SiteKind, SiteStatus};
use shared::{ErrorCode, FieldError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

/// The browser's clock. (`OffsetDateTime::now_utc` panics on wasm32-unknown-unknown.)
pub fn now() -> time::OffsetDateTime {
    let ms = js_sys::Date::now();
    time::OffsetDateTime::from_unix_timestamp_nanos((ms * 1_000_000.0) as i128)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// Translate a UI string key.
pub fn t(lang: Lang, key: &str) -> &'static str {
    let (zh, en) = match key {
        "app" => ("清流 · 农村环境巡查", "Qingliu field inspection"),
        "home" => ("首页", "Home"),
        "sites" => ("点位", "Sites"),
        "records" => ("记录", "Records"),
        "login" => ("登录", "Log in"),
        "logout" => ("退出登录", "Log out"),
        "server" => ("服务器地址", "Server address"),
        "username" => ("用户名", "Username"),
        "password" => ("密码", "Password"),
        "first_run" => (
            "首次使用：填写服务器地址并登录，之后可离线使用。",
            "First run: enter the server address and log in; afterwards the app works offline.",
        ),
        "sync_now" => ("立即同步", "Sync now"),
        "syncing" => ("同步中…", "Syncing…"),
        "last_sync" => ("上次同步", "Last sync"),
        "never" => ("从未", "never"),
        "pending" => ("待上传", "Waiting to upload"),
        "sync_failed" => ("同步失败", "Sync failed"),
        "uploading_photo" => ("正在上传照片", "Uploading photo"),
        "search" => ("搜索名称或区划代码", "Search name or region code"),
        "all_kinds" => ("全部类型", "All kinds"),
        "all_status" => ("全部状态", "All states"),
        "new_inspection" => ("新建检查", "New inspection"),
        "history" => ("检查记录", "Inspections"),
        "no_records" => ("暂无记录", "No records"),
        "save_draft" => ("保存草稿", "Save draft"),
        "submit" => ("提交", "Submit"),
        "discard" => ("删除草稿", "Discard draft"),
        "edit" => ("编辑", "Edit"),
        "correct" => ("修改并重新提交", "Correct and resubmit"),
        "back" => ("返回", "Back"),
        "saved" => ("已保存", "Saved"),
        "queued" => ("已加入上传队列", "Queued for upload"),
        "reviewer_comment" => ("审核意见", "Reviewer's comment"),
        "rejected_reason" => ("不予通过的理由", "Reason for rejection"),
        "refused" => ("服务器拒收", "Refused by the server"),
        "conflict" => ("版本冲突", "Version conflict"),
        "take_server" => ("采用服务器上的版本", "Take the server's version"),
        "photos" => ("照片", "Photos"),
        "add_photo" => ("添加照片", "Add photo"),
        "processing_photo" => ("正在处理照片…", "Processing photo…"),
        "position" => ("位置（WGS-84）", "Position (WGS-84)"),
        "lng" => ("经度", "Longitude"),
        "lat" => ("纬度", "Latitude"),
        "accuracy" => ("精度（米）", "Accuracy (m)"),
        "use_photo_position" => ("使用照片位置", "Use photo position"),
        "notes" => ("备注", "Notes"),
        "proposed_status" => ("建议变更点位状态", "Proposed site status"),
        "no_change" => ("不变更", "No change"),
        "warnings" => ("提示", "Warnings"),
        "colour" => ("颜色", "Colour"),
        "odour" => ("气味", "Odour"),
        "depth" => ("水深（厘米）", "Water depth (cm)"),
        "transparency" => ("透明度（厘米）", "Transparency (cm)"),
        "do" => ("溶解氧（mg/L）", "Dissolved oxygen (mg/L)"),
        "orp" => ("氧化还原电位（mV）", "ORP (mV)"),
        "nh3n" => ("氨氮（mg/L）", "Ammonia nitrogen (mg/L)"),
        // The same measurements by their field names, as a record's fields and changes show them.
        "water_depth_cm" => ("水深（厘米）", "Water depth (cm)"),
        "transparency_cm" => ("透明度（厘米）", "Transparency (cm)"),
        "dissolved_oxygen_mg_l" => ("溶解氧（mg/L）", "Dissolved oxygen (mg/L)"),
        "orp_mv" => ("氧化还原电位（mV）", "ORP (mV)"),
        "ammonia_n_mg_l" => ("氨氮（mg/L）", "Ammonia nitrogen (mg/L)"),
        "public_survey_pct" => ("公众调查认为黑臭比例（%）", "Survey: share judging it black-odorous (%)"),
        "inlet_observation" => ("进水情况", "Inlet"),
        "outlet_observation" => ("出水情况", "Outlet"),
        "indicator" => ("指标", "Indicator"),
        "value" => ("数值", "Value"),
        "inspectors" => ("执法人员", "Enforcement officers"),
        "name" => ("姓名", "Name"),
        "credential_no" => ("执法证号", "Credential no."),
        "legal_representative" => ("法定代表人", "Legal representative"),
        "rectification_deadline" => ("整改期限", "Rectification deadline"),
        "survey" => ("公众调查认为黑臭比例（%）", "Survey: share judging it black-odorous (%)"),
        "judgement" => ("判定", "Judgement"),
        "running_state" => ("运行状态", "Running state"),
        "inlet" => ("进水情况", "Inlet"),
        "outlet" => ("出水情况", "Outlet"),
        "readings" => ("监测读数", "Readings"),
        "started_at" => ("开始时间", "Start"),
        "ended_at" => ("结束时间", "End"),
        "place" => ("检查地点", "Place"),
        "party" => ("被检查单位", "Inspected party"),
        "uscc" => ("统一社会信用代码", "Unified social credit code"),
        "legal_rep" => ("法定代表人", "Legal representative"),
        "person_present" => ("现场负责人", "Person present"),
        "officers" => ("执法人员（不少于两人）", "Enforcement officers (two or more)"),
        "officer_name" => ("姓名", "Name"),
        "credential" => ("执法证号", "Credential no."),
        "add_officer" => ("添加执法人员", "Add officer"),
        "remove_officer" => ("删除最后一名", "Remove the last"),
        "recorder" => ("记录人", "Recorder"),
        "task_source" => ("任务来源", "Task source"),
        "checklist" => ("检查项", "Checklist"),
        "findings" => ("检查情况", "Findings"),
        "violations" => ("违法行为（每行一条）", "Violations (one per line)"),
        "deadline" => ("责令改正期限", "Rectification deadline"),
        "party_signature" => ("当事人签字", "Party's signature"),
        "signed" => ("已签字", "Signed"),
        "refused_to_sign" => ("拒绝签字", "Refused to sign"),
        "refusal_reason" => ("拒签原因", "Reason for refusal"),
        "documents" => ("文书与签名", "Documents and signatures"),
        "documents_hint" => (
            "填写完毕后生成文书编号，再由各方在平板上签名。签名后修改记录会清除签名。",
            "When the record is complete, take the document numbers, then everyone signs on the tablet. Editing after signing clears the signatures.",
        ),
        "prepare_documents" => ("生成文书编号", "Take document numbers"),
        "not_signed" => ("未签名", "Not signed"),
        "witness_name" => ("见证人姓名", "Witness's name"),
        "sign" => ("签名", "Sign"),
        "sign_again" => ("重新签名", "Sign again"),
        "sign_here" => ("请用手指或触控笔在框内签名", "Sign in the box with a finger or stylus"),
        "undo_stroke" => ("撤销一笔", "Undo stroke"),
        "clear" => ("清除重签", "Clear"),
        "cancel" => ("取消", "Cancel"),
        "confirm_signature" => ("确认签名", "Confirm signature"),
        "preview" => ("预览", "Preview"),
        "share_print" => ("用系统应用打开（打印、分享）", "Open in the system viewer (print, share)"),
        "close" => ("关闭", "Close"),
        "uncovered_chars" => (
            "以下字符文书字库无法打印，请改写或在纸面补写",
            "The document font cannot print these characters",
        ),
        "sewage_treated" => ("生活污水已治理", "Domestic sewage treated"),
        "summary" => ("整治情况", "Summary"),
        "unknown" => ("未选择", "Not set"),
        "language" => ("English", "中文"),
        // Console.
        "console" => ("清流 · 整治调度台", "Qingliu console"),
        "console_login" => ("审核、进度跟踪与调度", "Review, progress tracking and dispatch"),
        "queue" => ("审核", "Review"),
        "dashboard" => ("进度", "Progress"),
        "dispatch" => ("按月调度", "Monthly dispatch"),
        "supervision" => ("督办", "Supervision"),
        "map" => ("地图", "Map"),
        "admin" => ("管理", "Admin"),
        "status" => ("状态", "Status"),
        "kind" => ("类型", "Kind"),
        "village" => ("行政村", "Village"),
        "all_villages" => ("全部村", "All villages"),
        "date_from" => ("接收起", "Received from"),
        "date_to" => ("接收止", "Received to"),
        "total" => ("共", "Total"),
        "items" => ("条", "items"),
        "site" => ("点位", "Site"),
        "received" => ("接收时间", "Received"),
        "flags" => ("预警", "Flags"),
        "approve" => ("通过", "Approve"),
        "return" => ("退回修改", "Return"),
        "reject" => ("不予通过", "Reject"),
        "approve_selected" => ("批量通过所选", "Approve selected"),
        "review_tab" => ("审核", "Review"),
        "review_queue" => ("审核队列", "Review queue"),
        "view_pending" => ("待审核", "To review"),
        "view_decided" => ("已决定", "Decided"),
        "view_conflicts" => ("冲突", "Conflicts"),
        "view_all" => ("全部", "All"),
        "ready_only" => ("仅显示可离线审核", "Ready offline only"),
        "flagged_only" => ("仅显示有预警", "Flagged only"),
        "ready_offline" => ("可离线审核", "Ready offline"),
        "not_ready" => ("资料未下载完", "Not yet downloaded"),
        "detail_missing" => (
            "该记录的详情与照片尚未下载：联网同步后可离线审核。",
            "This record's detail and photos are not on the tablet yet: sync while online to review offline.",
        ),
        "prefetching" => ("正在下载审核资料", "Downloading for offline review"),
        "queue_pending" => ("待审核", "To review"),
        "queue_ready" => ("可离线审核", "Ready offline"),
        "queue_queued" => ("决定待同步", "Decisions to sync"),
        "queue_conflicts" => ("审核冲突", "Conflicts"),
        "queue_refused" => ("被拒收", "Refused"),
        "decision_saved" => ("决定已保存，联网后自动同步", "Decision saved; it syncs when online"),
        "decisions_saved" => ("条决定已保存，联网后自动同步", "decisions saved; they sync when online"),
        "my_decision" => ("我的决定", "My decision"),
        "server_side" => ("服务器上的现状", "On the server now"),
        "drop_mine" => ("放弃我的决定", "Drop my decision"),
        "decide_again_hint" => (
            "记录已有新版本待审核，可在下方重新审核。",
            "A newer version waits for review: decide again below.",
        ),
        "return_selected" => ("批量退回所选", "Return selected"),
        "reject_selected" => ("批量不予通过", "Reject selected"),
        "bulk_comment" => {
            ("批量意见（退回、不予通过时必填）", "Comment for all (required to return or reject)")
        }
        "no_queue" => ("没有符合条件的记录", "Nothing matches"),
        "select_all" => ("全选", "Select all"),
        "comment" => ("审核意见", "Comment"),
        "comment_required" => ("退回须填写修改意见", "A return needs a comment"),
        "reason_required" => ("不予通过须填写理由", "A rejection needs a reason"),
        "keys_queue" => (
            "键盘：J/K 上下移动，X 选择，Enter 打开，A 批量通过所选",
            "Keys: J/K move, X select, Enter open, A approve selected",
        ),
        "keys_detail" => (
            "键盘：A 通过，R 退回，J 不予通过，Esc 返回队列",
            "Keys: A approve, R return, J reject, Esc back to queue",
        ),
        "fields" => ("记录内容", "Fields"),
        "positions" => ("位置", "Position"),
        "site_position" => ("点位登记位置", "Registered site position"),
        "record_position" => ("记录位置", "Recorded position"),
        "distance" => ("距离", "Distance"),
        "no_position" => ("无位置信息", "No position"),
        "versions" => ("版本历史", "Versions"),
        "version" => ("版本", "Version"),
        "changes" => ("修改内容", "Changes"),
        "no_changes" => ("无字段变化", "No field changed"),
        "audit" => ("操作记录", "Audit trail"),
        "no_flags" => ("无预警", "No flags"),
        "reviewed" => ("已审核", "Reviewed"),
        "villages_remediated" => ("行政村环境整治", "Villages remediated"),
        "water_eliminated" => ("黑臭水体消除", "Water bodies eliminated"),
        "sewage_rate" => ("生活污水治理率", "Sewage treatment rate"),
        "year_elapsed" => ("年度时间进度", "Share of year elapsed"),
        "region" => ("区划", "Region"),
        "target" => ("目标", "Target"),
        "done" => ("完成", "Done"),
        "planned" => ("计划", "Planned"),
        "behind" => ("滞后", "Behind"),
        "on_track" => ("正常", "On track"),
        "export_xlsx" => ("导出 XLSX", "Export XLSX"),
        "export_csv" => ("导出 CSV", "Export CSV"),
        "export_geojson" => ("导出 GeoJSON", "Export GeoJSON"),
        "month" => ("月份", "Month"),
        "cumulative" => ("累计", "Cumulative"),
        "year" => ("年度", "Year"),
        "level" => ("级别", "Level"),
        "shortfall" => ("缺口", "Shortfall"),
        "no_behind" => ("没有滞后的地区", "No region is behind"),
        "targets" => ("目标与月度计划", "Targets and monthly plan"),
        "monthly_plan" => {
            ("月度累计计划比例（12 个，逗号分隔）", "Cumulative monthly plan (12 shares, comma-separated)")
        }
        "save" => ("保存", "Save"),
        "users" => ("用户", "Users"),
        "new_user" => ("新建用户", "New user"),
        "display_name" => ("姓名", "Name"),
        "role" => ("角色", "Role"),
        "villages" => ("分配的行政村（区划代码，逗号分隔）", "Assigned villages (codes, comma-separated)"),
        "disable" => ("停用", "Disable"),
        "enable" => ("启用", "Enable"),
        "disabled" => ("已停用", "Disabled"),
        "create" => ("创建", "Create"),
        "zoom_in" => ("放大", "Zoom in"),
        "zoom_out" => ("缩小", "Zoom out"),
        "rows_level" => ("显示到", "Rows"),
        "next_level" => ("下一级", "Next level"),
        "filter_regions" => ("按名称或代码筛选", "Filter by name or code"),
        "furthest_behind_40" => ("完成率最低的 40 个", "the 40 furthest behind"),
        "completion_distribution" => ("完成率分布（按区划个数）", "Completion share (number of regions)"),
        "map_pending_capped" => {
            ("待审核记录较多，仅显示最新 20000 条", "Many records wait: the newest 20,000 are shown")
        }
        "map_points" => ("个点位", "points"),
        "map_click_zoom" => ("点击放大", "click to zoom in"),
        "no_basemap" => ("未配置底图：按经纬度网格绘制", "No basemap configured: drawn on a lng/lat grid"),
        "sites_legend" => ("点位", "Sites"),
        "pending_legend" => ("待审核记录", "Submitted records"),
        "new_password" => ("新密码（可选）", "New password (optional)"),
        "loading" => ("加载中…", "Loading…"),
        "item" => ("项目", "Item"),
        "result" => ("结果", "Result"),
        "device_time" => ("记录时间（设备）", "Recorded (device time)"),
        "note" => ("备注", "Note"),
        "locate" => ("获取定位", "Get position"),
        "locate_average" => ("多次定位取平均", "Average several fixes"),
        "stop" => ("停止", "Stop"),
        "manual_reason" => ("手动输入位置的原因（必填）", "Why the position is typed (required)"),
        "fixes" => ("次定位平均", "fixes averaged"),
        "satellites" => ("颗卫星", "satellites"),
        "timed_out" => ("超时，未达精度要求", "timed out before the accuracy asked for"),
        "settings" => ("设置", "Settings"),
        "position_source" => ("定位来源", "Position source"),
        "source_device" => ("本机定位", "This device's location"),
        "source_tcp" => ("外接接收机（网络 TCP）", "External receiver (TCP)"),
        "source_serial" => ("外接接收机（串口/蓝牙串口）", "External receiver (serial / Bluetooth serial)"),
        "receiver_address" => ("接收机地址（主机:端口）", "Receiver address (host:port)"),
        "serial_path" => ("串口设备", "Serial device"),
        "baud" => ("波特率", "Baud rate"),
        "capture_mode" => ("默认定位方式", "Default capture"),
        "mode_single" => ("首个合格定位", "First good fix"),
        "mode_average" => ("多次定位取平均", "Average of several fixes"),
        "accept_accuracy" => ("合格精度（米，≤）", "Good enough accuracy (m, ≤)"),
        "average_fixes" => ("平均定位次数", "Fixes to average"),
        "average_seconds" => ("平均时长上限（秒）", "Longest averaging (s)"),
        "timeout_seconds" => ("定位超时（秒）", "Give up after (s)"),
        "storage_floor" => {
            ("存储空间下限（MiB），低于此值不再拍照", "Storage floor (MiB): no new photos below it")
        }
        "free_storage" => ("剩余存储空间", "Free storage"),
        "storage_low" => ("存储空间不足，已停止拍照", "Storage low: photos are refused"),
        "audit_head" => ("审计日志校验值", "Audit log head"),
        "service_accounts" => ("服务账号（系统对接）", "Service accounts (systems)"),
        "service_accounts_help" => (
            "供省数字政府平台等系统读取数据：只读角色，无密码，凭 API 密钥访问。密钥只在生成时显示一次，请立即交给对方系统；吊销后立即失效。",
            "For systems such as the provincial platform: a read-only role, no password, API keys. A key is shown once, when made: hand it to the system at once; a revoked key stops working immediately.",
        ),
        "purpose" => ("用途与责任人", "Purpose and owner"),
        "keys" => ("密钥", "Keys"),
        "new_key" => ("新密钥", "New key"),
        "revoke" => ("吊销", "Revoke"),
        "revoked" => ("已吊销", "Revoked"),
        "expires" => ("到期", "Expires"),
        "key_once" => ("新密钥（只显示这一次）：", "New key (shown this once only):"),
        "new_service_account" => ("新建服务账号", "New service account"),
        "webhooks" => ("变更推送（Webhook）", "Webhooks"),
        "webhooks_help" => (
            "对接系统订阅的变更推送。推送按顺序进行，失败后按退避间隔重试；接收方持续失败超过设定时间的变更将放弃并计数。",
            "Subscriptions of connected systems. Deliveries go in order and are retried with backoff; changes a receiver keeps refusing past the configured time are given up and counted.",
        ),
        "wh_delivering" => ("正常", "Delivering"),
        "ev_version" => ("记录版本", "record versions"),
        "ev_review" => ("审核决定", "review decisions"),
        "ev_site" => ("点位变更", "site changes"),
        "wh_failing" => ("失败重试中", "Failing"),
        "delivered" => ("已送达", "Delivered"),
        "given_up" => ("已放弃", "Given up"),
        "last_error" => ("最近错误", "Last error"),
        "events" => ("变更类型", "Events"),
        "delete" => ("删除", "Delete"),
        "audit_head_help" => (
            "审计日志逐条链式哈希。请定期抄录此值（编号:哈希）并在服务器之外保存；日后运行 sync-server audit verify --expect 编号:哈希 可证明此前的日志未被改写。",
            "Every audit entry is hash-chained to the one before. Write this value (number:hash) down outside the server from time to time; `sync-server audit verify --expect NUMBER:HASH` later proves the log up to it was not rewritten.",
        ),
        "flag_stats" => ("疑点统计", "Flag statistics"),
        "by_township" => ("按乡镇", "By township"),
        "by_inspector" => ("按检查员", "By inspector"),
        "group_by" => ("统计方式", "Group by"),
        "flagged_records" => ("有疑点记录", "Flagged records"),
        "flag_total" => ("疑点合计", "Flags"),
        "by_kind" => ("类型分布", "By kind"),
        "by_month" => ("逐月", "By month"),
        "no_flag_stats" => ("本年度暂无疑点", "No flags this year"),
        "any_flag" => ("有预警", "Any flag"),
        "all_flags" => ("全部（含无预警）", "All (with or without flags)"),
        "evidence" => ("证据对比", "Evidence side by side"),
        "no_number" => ("（无编号）", "(no number)"),
        "doc_matches" => ("✓ 与现场出具的文书一致", "✓ the document shown on site"),
        "doc_differs" => ("✗ 与现场出具的文书不一致", "✗ differs from the document shown on site"),
        "doc_unsigned" => ("现场未记录文书摘要", "no digest recorded on site"),
        "export_documents" => ("下载文书（ZIP）", "Documents (ZIP)"),
        "view" => ("查看", "View"),
        "download" => ("下载", "Download"),
        "this_record" => ("本记录", "This record"),
        "other_record" => ("另一记录", "Other record"),
        "open_other" => ("打开另一记录", "Open the other record"),
        _ => ("", ""),
    };
    match lang {
        Lang::Zh => zh,
        Lang::En => en,
    }
}

pub fn kind_label(lang: Lang, k: InspectionKind) -> &'static str {
    match lang {
        Lang::Zh => k.label_zh(),
        Lang::En => match k {
            InspectionKind::WaterBody => "Black-odorous water body",
            InspectionKind::SewageFacility => "Sewage facility",
            InspectionKind::Enforcement => "Enforcement visit",
            InspectionKind::VillageRemediation => "Village remediation",
        },
    }
}

pub fn site_kind_label(lang: Lang, k: SiteKind) -> &'static str {
    match lang {
        Lang::Zh => k.label_zh(),
        Lang::En => match k {
            SiteKind::Village => "Village",
            SiteKind::WaterBody => "Water body",
            SiteKind::Facility => "Sewage facility",
            SiteKind::Enterprise => "Enterprise",
        },
    }
}

pub fn site_status_label(lang: Lang, s: SiteStatus) -> &'static str {
    use SiteStatus::*;
    match lang {
        Lang::Zh => s.label_zh(),
        Lang::En => match s {
            Planned => "planned",
            InProgress => "in progress",
            Completed => "completed",
            Accepted => "accepted",
            Identified => "identified",
            Remediating => "remediating",
            Eliminated => "eliminated",
            Running => "running",
            Faulty => "faulty",
            Stopped => "stopped",
        },
    }
}

pub fn state_label(lang: Lang, s: LocalState) -> &'static str {
    match lang {
        Lang::Zh => s.label_zh(),
        Lang::En => match s {
            LocalState::Draft => "draft",
            LocalState::Queued => "queued",
            LocalState::Uploading => "uploading",
            LocalState::Submitted => "submitted",
            LocalState::Approved => "approved",
            LocalState::Returned => "returned",
            LocalState::Rejected => "rejected",
            LocalState::Refused => "refused",
            LocalState::Conflict => "conflict",
        },
    }
}

pub fn colour_label(lang: Lang, c: ColourGrade) -> &'static str {
    match lang {
        Lang::Zh => c.label_zh(),
        Lang::En => match c {
            ColourGrade::Normal => "normal",
            ColourGrade::Greyish => "greyish",
            ColourGrade::Dark => "dark",
            ColourGrade::Black => "black",
        },
    }
}

pub fn odour_label(lang: Lang, o: OdourGrade) -> &'static str {
    match lang {
        Lang::Zh => o.label_zh(),
        Lang::En => match o {
            OdourGrade::None => "none",
            OdourGrade::Slight => "slight",
            OdourGrade::Noticeable => "noticeable",
            OdourGrade::Strong => "strong",
        },
    }
}

pub fn running_label(lang: Lang, r: FacilityRunningState) -> &'static str {
    match lang {
        Lang::Zh => r.label_zh(),
        Lang::En => match r {
            FacilityRunningState::Running => "running",
            FacilityRunningState::Faulty => "faulty",
            FacilityRunningState::Stopped => "stopped",
        },
    }
}

pub fn task_source_label(lang: Lang, s: TaskSource) -> &'static str {
    match lang {
        Lang::Zh => s.label_zh(),
        Lang::En => match s {
            TaskSource::Routine => "routine",
            TaskSource::SpecialCampaign => "special campaign",
            TaskSource::Complaint => "complaint",
            TaskSource::Referral => "referral",
            TaskSource::Patrol => "patrol",
        },
    }
}

/// A field error in the chosen language: the shared Chinese message, or an English phrase by
/// its stable code.
pub fn error_text(lang: Lang, e: &FieldError) -> String {
    match lang {
        Lang::Zh => e.message.clone(),
        Lang::En => match e.code {
            ErrorCode::Required => "required".into(),
            ErrorCode::TooLong => "too long".into(),
            ErrorCode::OutOfRange => "out of range".into(),
            ErrorCode::InvalidFormat => "invalid format".into(),
            ErrorCode::InvalidChecksum => "check character is wrong".into(),
            ErrorCode::TooFew => "too few".into(),
            ErrorCode::TooMany => "too many".into(),
            ErrorCode::Inconsistent => "inconsistent with other fields".into(),
            ErrorCode::IllegalTransition => "status change not allowed".into(),
            other => other.as_str().replace('_', " "),
        },
    }
}

/// A field path's label: each segment translated where a translation exists, list positions
/// counted from 1 (`checklist.0.item` → `检查项 1 · item`).
pub fn field_label(lang: Lang, path: &str) -> String {
    path.split('.')
        .map(|seg| match seg.parse::<usize>() {
            Ok(n) => (n + 1).to_string(),
            Err(_) => match t(lang, seg) {
                "" => seg.replace('_', " "),
                l => l.to_string(),
            },
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// A field value for people: yes/no, instants in Beijing time, site states in words.
pub fn field_value(lang: Lang, path: &str, v: &str) -> String {
    match v {
        "true" => return (if lang == Lang::Zh { "是" } else { "yes" }).into(),
        "false" => return (if lang == Lang::Zh { "否" } else { "no" }).into(),
        _ => {}
    }
    if path.ends_with("time") || path.ends_with("_at") {
        return shanghai(v);
    }
    if let Some(l) = enum_value(lang, path, v) {
        return l.into();
    }
    // Enum values travel as snake_case words; show their translation when there is one.
    if v.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        let l = t(lang, v);
        if !l.is_empty() {
            return l.into();
        }
    }
    v.to_string()
}

/// A domain enum's value by the field that holds it, in the shared words (`shared::labels`).
fn enum_value(lang: Lang, path: &str, v: &str) -> Option<&'static str> {
    fn parse<T: serde::de::DeserializeOwned>(v: &str) -> Option<T> {
        serde_json::from_value(serde_json::Value::String(v.into())).ok()
    }
    Some(match path.rsplit('.').next()? {
        "proposed_status" | "status" => site_status_label(lang, parse(v)?),
        "result" => checklist_label(lang, parse(v)?),
        "colour" => colour_label(lang, parse(v)?),
        "odour" => odour_label(lang, parse(v)?),
        "running_state" => running_label(lang, parse(v)?),
        "task_source" => task_source_label(lang, parse(v)?),
        "source" => position_source_label(lang, parse(v)?),
        _ => return None,
    })
}

pub fn checklist_label(lang: Lang, r: ChecklistResult) -> &'static str {
    match lang {
        Lang::Zh => r.label_zh(),
        Lang::En => match r {
            ChecklistResult::NoProblem => "no problem found",
            ChecklistResult::Problem => "problem found",
            ChecklistResult::NotApplicable => "not applicable",
        },
    }
}

/// An RFC 3339 instant shown in Asia/Shanghai.
pub fn shanghai(rfc3339: &str) -> String {
    use time::format_description::well_known::Rfc3339;
    match time::OffsetDateTime::parse(rfc3339, &Rfc3339) {
        Ok(t) => shared::clock::beijing(t),
        Err(_) => rfc3339.to_string(),
    }
}

/// The black-odorous judgement in words.
pub fn judgement_text(lang: Lang, j: &shared::thresholds::Judgement) -> String {
    use shared::thresholds::BlackOdorousLevel as L;
    if lang == Lang::Zh {
        return j.text_zh();
    }
    let level = match j.level {
        L::Undetermined => "undetermined",
        L::NotBlackOdorous => "not black-odorous",
        L::Mild => "mildly black-odorous",
        L::Severe => "severely black-odorous",
    };
    let basis: Vec<&str> = j
        .basis
        .iter()
        .map(|b| match b.as_str() {
            "transparency" => "transparency",
            "dissolved_oxygen" => "dissolved oxygen",
            "orp" => "ORP",
            "ammonia_nitrogen" => "ammonia nitrogen",
            "public_survey" => "public survey",
            _ => "sensory",
        })
        .collect();
    if basis.is_empty() { level.to_string() } else { format!("{level} (by {})", basis.join(", ")) }
}

pub fn review_status_label(lang: Lang, s: shared::review::ReviewStatus) -> &'static str {
    use shared::review::ReviewStatus::*;
    match (s, lang) {
        (Submitted, Lang::Zh) => "待审核",
        (Submitted, Lang::En) => "Submitted",
        (Approved, Lang::Zh) => "已通过",
        (Approved, Lang::En) => "Approved",
        (Returned, Lang::Zh) => "已退回",
        (Returned, Lang::En) => "Returned",
        (Rejected, Lang::Zh) => "不予通过",
        (Rejected, Lang::En) => "Rejected",
    }
}

pub fn role_label(lang: Lang, r: shared::auth::Role) -> &'static str {
    use shared::auth::Role::*;
    match (r, lang) {
        (Inspector, Lang::Zh) => "检查员",
        (Inspector, Lang::En) => "Inspector",
        (TownshipReviewer, Lang::Zh) => "乡镇审核员",
        (TownshipReviewer, Lang::En) => "Township reviewer",
        (CountyViewer, Lang::Zh) => "县级查看",
        (CountyViewer, Lang::En) => "County viewer",
        (PrefectureViewer, Lang::Zh) => "市级查看",
        (PrefectureViewer, Lang::En) => "Prefecture viewer",
        (ProvinceViewer, Lang::Zh) => "省级查看",
        (ProvinceViewer, Lang::En) => "Province viewer",
        (ProvinceAdmin, Lang::Zh) => "省级管理员",
        (ProvinceAdmin, Lang::En) => "Province admin",
    }
}

pub fn level_label(lang: Lang, l: shared::region::RegionLevel) -> &'static str {
    use shared::region::RegionLevel::*;
    match (l, lang) {
        (Province, Lang::Zh) => "省",
        (Province, Lang::En) => "Province",
        (Prefecture, Lang::Zh) => "市（州）",
        (Prefecture, Lang::En) => "Prefecture",
        (County, Lang::Zh) => "县（市、区）",
        (County, Lang::En) => "County",
        (Township, Lang::Zh) => "乡镇（街道）",
        (Township, Lang::En) => "Township",
        (Village, Lang::Zh) => "行政村",
        (Village, Lang::En) => "Village",
    }
}

pub fn position_source_label(lang: Lang, s: shared::inspection::PositionSource) -> &'static str {
    use shared::inspection::PositionSource::*;
    match lang {
        Lang::Zh => s.label_zh(),
        Lang::En => match s {
            Gps => "device location",
            Receiver => "external GNSS receiver",
            Exif => "photo EXIF",
            Manual => "typed by hand",
        },
    }
}

/// A position with where it came from and how good it is, as inspectors and reviewers read it.
pub fn position_text(lang: Lang, p: &shared::inspection::Position) -> String {
    let mut s = format!(
        "{:.6}, {:.6} ±{} · {}",
        p.point.lng(),
        p.point.lat(),
        p.accuracy_m.map(|a| format!("{a:.1} m")).unwrap_or("?".into()),
        position_source_label(lang, p.source)
    );
    if p.fix_count > 1 {
        s += &format!(" · {} {}", p.fix_count, t(lang, "fixes"));
    }
    if let Some(n) = p.satellites {
        s += &format!(" · {n} {}", t(lang, "satellites"));
    }
    if p.timed_out {
        s += &format!(" · {}", t(lang, "timed_out"));
    }
    s
}

/// A flag kind's name (`Flag::kind`), for filters and statistics.
pub fn flag_kind_label(lang: Lang, kind: &str) -> &'static str {
    let (zh, en) = match kind {
        "no_position" => ("未记录位置", "No position"),
        "weak_accuracy" => ("定位精度差", "Weak accuracy"),
        "far_from_site" => ("远离点位", "Far from the site"),
        "mock_location" => ("模拟位置", "Mock location"),
        "photo_far" => ("照片位置不符", "Photo taken elsewhere"),
        "photo_time" => ("照片时间不符", "Photo taken at another time"),
        "manual_position" => ("手动输入位置", "Typed position"),
        "capture_timed_out" => ("定位超时", "Capture timed out"),
        "photo_reuse" => ("照片重复使用", "Reused photo"),
        "impossible_travel" => ("行程不可能", "Impossible travel"),
        "credential_overlap" => ("执法证时间冲突", "Credential in two places"),
        "clock_skew" => ("设备时钟偏差", "Device clock off"),
        "device_time_after_receipt" => ("记录时间晚于收到时间", "Recorded after receipt"),
        "clock_backwards" => ("设备时钟倒退", "Device clock went back"),
        "copied_position" => ("坐标复制", "Copied coordinates"),
        _ => ("其他", "Other"),
    };
    match lang {
        Lang::Zh => zh,
        Lang::En => en,
    }
}

pub fn flag_text(lang: Lang, f: &shared::flags::Flag) -> String {
    use shared::flags::Flag;
    match lang {
        Lang::Zh => f.message_zh(),
        Lang::En => match f {
            Flag::NoPosition => "no position recorded".into(),
            Flag::WeakAccuracy { accuracy_m } => format!("weak accuracy (±{accuracy_m:.0} m)"),
            Flag::FarFromSite { distance_m } => format!("{distance_m:.0} m from the registered site"),
            Flag::MockLocation => "device reported a mock location".into(),
            Flag::PhotoFar { photo, distance_m } => {
                format!("photo {} taken {distance_m:.0} m from the record's position", photo + 1)
            }
            Flag::PhotoTime { photo, minutes } => {
                format!("photo {} taken {minutes} min from the record's time", photo + 1)
            }
            Flag::ManualPosition { reason } => format!("position typed by hand (reason: {reason})"),
            Flag::CaptureTimedOut => {
                "position capture timed out: the best fix, short of the accuracy asked for".into()
            }
            Flag::PhotoReuse { photo, how, other_photo, other_site, bits, .. } => {
                let how = match how {
                    shared::flags::PhotoMatch::Identical => "identical file".to_string(),
                    shared::flags::PhotoMatch::SameOriginal => "same camera original".to_string(),
                    shared::flags::PhotoMatch::Similar => {
                        format!(
                            "same picture, fingerprints {bits} bits apart (re-encoded, resized, cropped or brightened)"
                        )
                    }
                };
                format!(
                    "photo {} repeats photo {} of another record ({other_site}): {how}",
                    photo + 1,
                    other_photo + 1
                )
            }
            Flag::ImpossibleTravel { other_site, distance_m, minutes, speed_kmh, .. } => format!(
                "{:.1} km and {minutes:.0} min from the inspector's adjacent record ({other_site}): {speed_kmh:.0} km/h",
                distance_m / 1000.0
            ),
            Flag::CredentialOverlap { credential_no, officer, other_place, distance_m, .. } => format!(
                "credential {credential_no} ({officer}) is on another on-site record at the same time ({other_place}, {:.1} km away)",
                distance_m / 1000.0
            ),
            Flag::ClockSkew { minutes } => {
                let dir = if *minutes > 0 { "ahead of" } else { "behind" };
                format!(
                    "device clock {} min {dir} the server's at submission: the record's time is unreliable",
                    minutes.abs()
                )
            }
            Flag::DeviceTimeAfterReceipt { minutes } => {
                format!("recorded {minutes} min after the server received it")
            }
            Flag::ClockBackwards { minutes } => {
                format!("device clock went back {minutes} min since its last sync")
            }
            Flag::CopiedPosition { other_site, .. } => {
                format!("exactly the same coordinates as another record ({other_site}): possibly copied")
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_read_with_their_source() {
        use shared::geo::LngLat;
        use shared::inspection::{Position, PositionSource};
        let mut p =
            Position::new(LngLat::new(114.871, 30.451), PositionSource::Receiver).with_accuracy(Some(2.0));
        p.fix_count = 10;
        p.satellites = Some(14);
        assert_eq!(
            position_text(Lang::Zh, &p),
            "114.871000, 30.451000 ±2.0 m · 外接 GNSS 接收机 · 10 次定位平均 · 14 颗卫星"
        );
        p.timed_out = true;
        assert!(
            position_text(Lang::En, &p).ends_with("14 satellites · timed out before the accuracy asked for")
        );
        let typed = Position::manual(LngLat::new(114.0, 30.0), "无信号");
        assert_eq!(position_text(Lang::Zh, &typed), "114.000000, 30.000000 ±? · 手动输入");
    }

    #[test]
    fn field_labels_and_values_read_as_words() {
        assert_eq!(field_label(Lang::Zh, "checklist.0.item"), "检查项 · 1 · 项目");
        assert_eq!(field_label(Lang::En, "body.unknown_thing"), "body · unknown thing");
        assert_eq!(field_value(Lang::Zh, "sewage_treated", "true"), "是");
        assert_eq!(field_value(Lang::En, "sewage_treated", "false"), "no");
        assert_eq!(field_value(Lang::Zh, "device_time", "2026-11-29T02:00:00Z"), "2026-11-29 10:00:00");
        assert_eq!(field_value(Lang::Zh, "proposed_status", "eliminated"), "已消除");
        assert_eq!(field_value(Lang::Zh, "checklist.0.result", "no_problem"), "未发现问题");
        assert_eq!(field_value(Lang::Zh, "body.checklist.2.result", "not_applicable"), "不适用");
        assert_eq!(field_value(Lang::En, "body.checklist.2.result", "problem"), "problem found");
        assert_eq!(field_value(Lang::Zh, "body.colour", "greyish"), "灰暗");
        assert_eq!(field_value(Lang::Zh, "body.task_source", "special_campaign"), "专项检查");
        assert_eq!(field_label(Lang::Zh, "body.checklist.2.note"), "body · 检查项 · 3 · 备注");
        assert_eq!(field_label(Lang::Zh, "dissolved_oxygen_mg_l"), "溶解氧（mg/L）");
        assert_eq!(field_label(Lang::Zh, "inspectors.1.credential_no"), "执法人员 · 2 · 执法证号");
        assert_eq!(field_value(Lang::Zh, "notes", "出水浑浊"), "出水浑浊");
    }
}
