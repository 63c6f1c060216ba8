/**
 * BlockHound integration for Picos: {@link org.picos.blockhound.PicosBlockHoundIntegration},
 * found by {@code BlockHound.install()} through {@link java.util.ServiceLoader}.
 */
package org.picos.blockhound;
