// The time range picker shared by every page with a time range.
export { TimeRangePicker, REFRESH_CHOICES } from "./TimeRangePicker";
export type { TimeRangePickerProps } from "./TimeRangePicker";
export { rangeLabel, PRESETS } from "./label";
