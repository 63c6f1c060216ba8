/** Internal plumbing between {@code org.picos} and {@code org.picos.spi}; not an API. */
package org.picos.internal;
