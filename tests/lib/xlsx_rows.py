"""The first sheet of an XLSX file as rows of text, for tests that check what carillonctl wrote.

rows(path, strict=False): a list of rows, each a list of cell texts ('' for an empty cell);
inline and shared strings, and plain values, are read. strict=True refuses (SystemExit) a
formula cell or a cell that is not a string, as an export must never write them.
"""
import re
import sys
import zipfile
import xml.etree.ElementTree as ET

NS = {'s': 'http://schemas.openxmlformats.org/spreadsheetml/2006/main'}


def _col(ref):
    n = 0
    for ch in re.match(r'[A-Z]+', ref).group(0):
        n = n * 26 + ord(ch) - 64
    return n - 1


def rows(path, strict=False):
    z = zipfile.ZipFile(path)
    sst = []
    if 'xl/sharedStrings.xml' in z.namelist():
        for si in ET.fromstring(z.read('xl/sharedStrings.xml')).findall('s:si', NS):
            sst.append(''.join(t.text or '' for t in si.iter('{%s}t' % NS['s'])))
    sheet = ET.fromstring(z.read('xl/worksheets/sheet1.xml'))
    out = []
    for row in sheet.iter('{%s}row' % NS['s']):
        cells = {}
        for c in row.findall('s:c', NS):
            if strict and c.find('s:f', NS) is not None:
                sys.exit('a formula cell: %s' % c.get('r'))
            if strict and c.get('t') not in ('inlineStr', 's'):
                sys.exit('not a string cell: %s (%s)' % (c.get('r'), c.get('t')))
            t, v = c.find('s:is/s:t', NS), c.find('s:v', NS)
            if t is not None:
                text = t.text
            elif c.get('t') == 's' and v is not None:
                text = sst[int(v.text)]
            else:
                text = v.text if v is not None else ''
            cells[_col(c.get('r'))] = text
        out.append([cells.get(i, '') or '' for i in range(max(cells) + 1 if cells else 0)])
    return out
