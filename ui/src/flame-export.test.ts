import { describe, expect, it } from 'vitest'
import { exportFileName, fileTime, fitLabel, xmlSafe } from './flame-export'

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

describe('xmlSafe', () => {
  it('replaces the characters XML 1.0 cannot hold, and only those', () => {
    expect(xmlSafe('\u001b[31mred\u0000\uFFFF')).toBe('\uFFFD[31mred\uFFFD\uFFFD')
    expect(xmlSafe('lone \uD800 high, lone \uDC00 low')).toBe('lone \uFFFD high, lone \uFFFD low')
    const allowed = 'tab\tline\nreturn\r \u202Ertl \u{1F525} <&> \u007F'
    expect(xmlSafe(allowed)).toBe(allowed)
  })

  it('leaves a string without them as it is, whatever the markup in it', () => {
    const markup = '<svg onload="x()">]]><!--&amp;'
    expect(xmlSafe(markup)).toBe(markup)
  })
})
