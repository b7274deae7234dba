#!/usr/bin/env python
"""Compare rows.json, rows.jsonl and rows.csv in a directory with reference.json; print counts as JSON."""

import csv
import json
import os
import sys


def csv_cell(value):
    if value is None:
        return ''
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(',', ':'))
    return str(value)


def main(directory):
    with open(os.path.join(directory, 'reference.json'), encoding='utf-8') as handle:
        reference = json.load(handle)
    counts = {}
    with open(os.path.join(directory, 'rows.json'), encoding='utf-8') as handle:
        rows = json.load(handle)
    assert rows == reference, 'rows.json differs'
    counts['json'] = len(rows)
    with open(os.path.join(directory, 'rows.jsonl'), encoding='utf-8') as handle:
        rows = [json.loads(line) for line in handle]
    assert rows == reference, 'rows.jsonl differs'
    counts['jsonl'] = len(rows)
    with open(os.path.join(directory, 'rows.csv'), newline='', encoding='utf-8') as handle:
        table = list(csv.reader(handle))
    header = list(reference[0])
    assert table[0] == header, 'CSV header %r' % table[0]
    assert table[1:] == [[csv_cell(row[name]) for name in header] for row in reference], 'rows.csv differs'
    counts['csv'] = len(table) - 1
    cells = [cell for line in table[1:] for cell in line]
    counts['hazards'] = sorted(name for name, mark in (('comma', ','), ('quote', '"'), ('newline', '\n'))
                               if any(mark in cell for cell in cells))
    print(json.dumps(counts))


if __name__ == '__main__':
    main(sys.argv[1])
