//! Where panels go on a vendor's grid: one flow layout, left to right then down, shared by every
//! renderer so the four dashboards read in the same order.

use super::model::Panel;

/// A vendor's grid: how many columns it has and how many of its row units one model row takes.
#[derive(Debug, Clone, Copy)]
pub struct Grid {
    pub columns: u32,
    pub row_units: u32,
}

/// A panel's place in grid units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

/// Places `panels` in order; a panel that does not fit on the current row starts a new one.
pub fn place(panels: &[Panel], grid: Grid) -> Vec<Rect> {
    let (mut x, mut y, mut row_height) = (0, 0, 0);
    panels
        .iter()
        .map(|panel| {
            let w = (u32::from(panel.width) * grid.columns / 12).clamp(1, grid.columns);
            let h = u32::from(panel.height) * grid.row_units;
            if x + w > grid.columns {
                (x, y, row_height) = (0, y + row_height, 0);
            }
            let rect = Rect { x, y, w, h };
            x += w;
            row_height = row_height.max(h);
            rect
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboards::model::PANELS;

    #[test]
    fn panels_stay_inside_the_grid_and_do_not_overlap() {
        let grid = Grid {
            columns: 48,
            row_units: 4,
        };
        let rects = place(PANELS, grid);
        for (i, a) in rects.iter().enumerate() {
            assert!(a.x + a.w <= grid.columns);
            for b in &rects[i + 1..] {
                let apart =
                    a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
                assert!(apart, "{a:?} overlaps {b:?}");
            }
        }
    }
}
