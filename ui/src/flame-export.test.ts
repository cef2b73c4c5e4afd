import { describe, expect, it } from 'vitest'
import { exportFileName, fileTime, fitLabel } from './flame-export'

describe('fitLabel', () => {
  it('keeps labels that fit', () => {
    expect(fitLabel('parse', 200, 10)).toBe('parse')
  })

  it('cuts long labels with an ellipsis to the room there is', () => {
    const label = fitLabel('renderInvoice', 8 + 6 * 10, 10)
    expect(label).toBe('rende…')
    expect(label.length).toBe(6)
  })

  it('drops labels of frames too narrow to read', () => {
    expect(fitLabel('renderInvoice', 20, 10)).toBe('')
  })
})

describe('exportFileName', () => {
  it('joins safe parts and leaves out empty ones', () => {
    expect(exportFileName(['kiln', 'check out/eu', '', 'cpu'], 'svg')).toBe(
      'kiln-check_out_eu-cpu.svg',
    )
  })

  it('writes times without colons', () => {
    expect(fileTime(Date.UTC(2026, 2, 1, 12, 5, 9))).toBe('2026-03-01T12-05-09')
  })
})
