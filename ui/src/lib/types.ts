// Shapes shared by the workspace's table and chart panels.

/** A run as drawn in charts. */
export interface ChartRun {
  id: string;
  name: string;
  color: string;
  /** Group label when the workspace is grouped by a config key. */
  group?: string;
  state: string;
}

/** Runs that share a value of the grouping key; charts draw them as mean with a min/max band. */
export interface RunGroup {
  key: string; // the grouping value as text ("0.01", "(none)")
  label: string; // e.g. "config.lr = 0.01"
  color: string;
  runIds: string[];
}
