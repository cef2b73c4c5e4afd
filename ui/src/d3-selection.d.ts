// d3-selection ships no types and @types/d3-selection is not a dependency; this is the part
// Kiln uses to hand d3-flame-graph a selection.
declare module 'd3-selection' {
  export interface Selection<Datum> {
    datum(): Datum
    datum<NewDatum>(value: NewDatum): Selection<NewDatum>
    call(fn: (selection: Selection<Datum>) => void): Selection<Datum>
  }

  export function select(node: Element): Selection<unknown>
}
