/** Whether two API reports hold the same lines in any order (the order of members alone is not an API change). */
export declare const sameApi: (a: string, b: string) => boolean
