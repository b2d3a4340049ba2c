//! The usage report as an Excel workbook: a "General" sheet and a "Users" sheet (with each
//! user's person and team from the directory).

use rust_xlsxwriter::{Format, Workbook, XlsxError};

use super::reports::UsageReport;

/// Writes the workbook into memory.
pub fn usage_workbook(report: &UsageReport) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let g = &report.general_metrics;
    let general: Vec<(&str, String)> = vec![
        (
            "Report from",
            g.report_period
                .from
                .clone()
                .unwrap_or_else(|| "all time".into()),
        ),
        (
            "Report to",
            g.report_period.to.clone().unwrap_or_else(|| "now".into()),
        ),
        (
            "Licenses",
            g.total_licenses.map(|n| n.to_string()).unwrap_or_default(),
        ),
        ("Active users", g.active_users.to_string()),
        ("Unique machines", report.unique_machines.to_string()),
        (
            "Sessions in period",
            report.period_metrics.session_count.to_string(),
        ),
        (
            "Session time in period (s)",
            format!("{:.0}", report.period_metrics.session_time_seconds),
        ),
        (
            "CI sessions in period",
            report.ci_metrics.total_ci_sessions.to_string(),
        ),
        (
            "Max concurrent CI sessions",
            report.ci_metrics.max_concurrent_ci_sessions.to_string(),
        ),
        (
            "All-time sessions",
            report.all_time_metrics.total_session_count.to_string(),
        ),
        (
            "All-time session time (s)",
            format!("{:.0}", report.all_time_metrics.total_session_time_seconds),
        ),
        (
            "Operator version",
            g.operator_version.clone().unwrap_or_default(),
        ),
        (
            "Last operator event",
            g.last_operator_event.clone().unwrap_or_default(),
        ),
    ];
    let sheet = wb.add_worksheet();
    sheet.set_name("General")?;
    sheet.set_column_width(0, 30)?;
    sheet.set_column_width(1, 28)?;
    for (row, (label, value)) in general.iter().enumerate() {
        sheet.write_string_with_format(row as u32, 0, *label, &bold)?;
        sheet.write_string(row as u32, 1, value)?;
    }
    let users = wb.add_worksheet();
    users.set_name("Users")?;
    let headers = [
        "Identifier",
        "Name",
        "First activity",
        "Last activity",
        "Sessions",
        "Total time (s)",
        "Mean duration (s)",
        "Mean daily sessions",
        "Person",
        "Team",
    ];
    for (col, h) in headers.iter().enumerate() {
        users.write_string_with_format(0, col as u16, *h, &bold)?;
        users.set_column_width(col as u16, 20)?;
    }
    for (i, u) in report.user_metrics.iter().enumerate() {
        let r = i as u32 + 1;
        users.write_string(r, 0, &u.identifier)?;
        users.write_string(r, 1, u.display_name.as_deref().unwrap_or(""))?;
        users.write_string(r, 2, u.first_active.as_deref().unwrap_or(""))?;
        users.write_string(r, 3, u.last_seen.as_deref().unwrap_or(""))?;
        users.write_number(r, 4, u.total_session_count as f64)?;
        users.write_number(r, 5, u.total_session_time_seconds)?;
        users.write_number(r, 6, u.average_session_duration_seconds)?;
        users.write_number(r, 7, u.average_daily_sessions)?;
        users.write_string(r, 8, u.person_name.as_deref().unwrap_or(""))?;
        users.write_string(r, 9, u.team.as_deref().unwrap_or(""))?;
    }
    wb.save_to_buffer()
}
