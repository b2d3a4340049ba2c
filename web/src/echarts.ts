// The chart engine: Apache ECharts, tree-shaken to the pieces the dashboard draws with. It is
// its own chunk, loaded while the reports are fetched, so it never delays the first numbers.

import { init, use } from 'echarts/core';
import { BarChart, LineChart, ScatterChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import { SVGRenderer } from 'echarts/renderers';

use([BarChart, LineChart, ScatterChart, GridComponent, LegendComponent, TooltipComponent, SVGRenderer]);

export { init };
