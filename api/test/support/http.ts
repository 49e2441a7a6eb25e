import { request, type IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';

/**
 * POSTs a body streamed from `chunks` (chunked: no Content-Length) over real HTTP, and answers
 * the status, headers and text of the response.
 */
export function postStream(
  url: string,
  headers: Record<string, string>,
  chunks: Iterable<string> | AsyncIterable<string>,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const post = request(url, { method: 'POST', headers }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (part: string) => (body += part));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body }));
    });
    post.on('error', reject);
    Readable.from(chunks).pipe(post);
  });
}
